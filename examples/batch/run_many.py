"""The batch from Python: every question of questions.jsonl through run_many, outcomes as they finish.

python examples/batch/run_many.py          # key from DASHSCOPE_API_KEY (base URL from DASHSCOPE_HTTP_BASE_URL)
"""

import json
from pathlib import Path

from qwen_ci_tool import CodeInterpreter

with open(Path(__file__).with_name("questions.jsonl"), encoding="utf-8") as file:
    tasks = [json.loads(line) for line in file if line.strip()]

with CodeInterpreter() as ci:
    for outcome in ci.run_many(tasks, concurrency=4):  # in the order they finish
        if outcome.result is not None:
            print(
                outcome.id,
                outcome.status,
                outcome.result.usage.total_tokens,
                "tokens:",
                " ".join(outcome.result.answer.split())[:80],
            )
        else:
            print(outcome.id, "failed:", type(outcome.error).__name__, "retryable" if outcome.retryable else "")
