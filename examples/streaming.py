"""Stream the stages of one call with the async client, then print the whole record.

python examples/streaming.py          # needs DASHSCOPE_API_KEY
"""

import asyncio

from qwen_ci_tool import AnswerDelta, AsyncCodeInterpreter, StageTracker

QUESTION = (
    "Run the code interpreter twice: first, calculate the value of 123 to the power of 23, "
    "and second, divide the result by 5"
)


async def main() -> None:
    async with AsyncCodeInterpreter() as aci, aci.stream(QUESTION) as stream:
        stages = StageTracker()
        async for event in stream:
            if stage := stages.update(event):
                print(f"[{stage}]")
            if isinstance(event, AnswerDelta):
                print(event.text, end="", flush=True)
        result = await stream.get_final_result()
    print("\n")
    print(result.to_markdown())


asyncio.run(main())
