from qwen_ci_tool import CodeInterpreter, RateLimitError
from qwen_ci_tool.testing import Emulator, Fault

with Emulator() as emu:  # a real HTTP server on 127.0.0.1, in a thread
    ci = CodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=0)

    emu.add_fault(Fault.status(429, retry_after="0"))  # the next request is throttled
    try:
        ci.run("What is 123 to the power of 21?")
    except RateLimitError as err:
        print("throttled:", err.code)

    emu.add_fault(Fault.drop(after_events=48))  # the connection drops near the end
    try:
        ci.run("What is 123 to the power of 21?")
    except Exception as err:
        print(type(err).__name__, "- partial answer:", err.partial.answer)

    print(ci.run("What is 123 to the power of 21?").answer)  # no fault queued: the seed answer
    ci.close()
