"""The batch from Python: every question of questions.jsonl through run_many, outcomes as they finish.

python examples/batch/run_many.py          # key from DASHSCOPE_API_KEY (base URL from DASHSCOPE_HTTP_BASE_URL)

Exits 1 when a task failed (each failure is printed with its error's message), 0 otherwise.
"""

import json
import sys
from pathlib import Path

from qwen_ci_tool import CodeInterpreter

with open(Path(__file__).with_name("questions.jsonl"), encoding="utf-8") as file:
    tasks = [json.loads(line) for line in file if line.strip()]

failed = 0
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
            failed += 1
            kind = "retryable" if outcome.retryable else "not retryable"
            print(f"{outcome.id} failed: {type(outcome.error).__name__} ({kind}): {outcome.error}")

if failed:
    print(f"{failed} of {len(tasks)} tasks failed.", file=sys.stderr)
    sys.exit(1)
