"""Compare a batch's answers with the "expected" values in its input (a tiny evaluation).

python examples/batch/check.py examples/batch/questions.jsonl results.jsonl
"""

from __future__ import annotations

import json
import sys


def main(input_path: str, output_path: str) -> int:
    expected = {}
    with open(input_path, encoding="utf-8") as file:
        for line in file:
            if line.strip():
                task = json.loads(line)
                expected[task["id"]] = str(task.get("expected", ""))
    latest = {}
    with open(output_path, encoding="utf-8") as file:
        for line in file:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            latest[row["id"]] = row  # a later line for an id replaces an earlier one
    right = 0
    for task_id, want in expected.items():
        row = latest.get(task_id)
        if row is None:
            print(f"{task_id:18} not run yet")
            continue
        if row["status"] == "failed":
            print(f"{task_id:18} failed: {row['error']['type']} (retryable: {row['error']['retryable']})")
            continue
        answer = row["result"]["answer"].replace(",", "")
        ok = all(part in answer.lower() for part in want.replace(",", "").lower().split())
        right += ok
        tokens = row["result"]["usage"]["total_tokens"]
        print(f"{task_id:18} {'right' if ok else 'WRONG'}  {tokens:>6,} tokens  expected {want}")
    print(f"{right} of {len(expected)} right")
    return 0 if right == len(expected) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
