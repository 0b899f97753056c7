from qwen_ci_tool import CodeInterpreter

with CodeInterpreter() as ci:  # the key comes from DASHSCOPE_API_KEY
    result = ci.run("What is 123 to the power of 21?")

print(result.answer)
for run in result.code_runs:
    print(f"code run #{run.index + 1}: {run.code}")
print(f"{result.usage.total_tokens} tokens, {result.usage.code_interpreter_calls} interpreter call(s)")
