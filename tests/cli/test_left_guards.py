"""``qwen-ci`` behaviours the first wave of hand breaks left unjudged (issue 26, helper left). Each test
fails with the break named in it."""

from __future__ import annotations

import io
import json
from pathlib import Path

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault


def test_a_failed_tasks_log_line_gives_the_first_line_of_a_service_message_of_several_lines(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    # Break: the log line's `splitlines()[0]` -> `[-1]`: the service's message is kept as sent, so one of
    # several lines made the log line show its last line (no error class, no status) instead of the first.
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "a", "question": SEED_QUESTION}) + "\n", encoding="utf-8")
    emu.add_fault(Fault.status(400, "InvalidParameter", "The input is invalid.\nfield messages[0]: not text"))
    err = io.StringIO()
    code = main(["batch", str(source), "-o", str(out), "--base-url", emu.base_url], stdout=io.StringIO(), stderr=err)
    message = json.loads(out.read_text(encoding="utf-8"))["error"]["message"]
    assert code == 1 and len(message.splitlines()) == 2
    head = "[1/1] a failed: BadRequestError (not retryable): "
    (line,) = [line for line in err.getvalue().splitlines() if line.startswith("[1/1]")]
    assert line == head + "The service returned an error (InvalidParameter, HTTP 400): The input is invalid."
