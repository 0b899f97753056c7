import asyncio

from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreter, QwenCIError

ci = CodeInterpreter()  # DASHSCOPE_API_KEY, Beijing, protocol "dashscope"
result = ci.run("What is 123 to the power of 21?")
result = ci.run(
    messages=[{"role": "system", "content": "Be exact."}, {"role": "user", "content": "Is 2**61 - 1 prime?"}]
)

with ci.stream("Compute 123**23 / 5") as stream:  # leaving the block closes the connection
    for event in stream:  # typed events, in arrival order
        print(type(event).__name__)
    result = stream.get_final_result()

try:
    result = ci.run("What is 123 to the power of 21?")
except QwenCIError as err:  # every error: what happened, what to do, the request id
    print(err)
    if err.partial is not None:  # what arrived before a failure mid-stream
        print(err.partial.answer)


async def main() -> None:
    async with AsyncCodeInterpreter() as aci:
        result = await aci.run("What is 123 to the power of 21?")
        print(result.answer)


asyncio.run(main())
ci.close()
