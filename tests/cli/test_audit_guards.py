"""Behaviours of the command line a one-line break left unguarded (the third and fourth mutation
audits, issue 26): each test here fails when its line breaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_ci_tool.cli import batch_output
from qwen_ci_tool.cli.batch import Progress
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_batch import batch, write_input

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_resumed_batch_counts_an_incomplete_answer_as_done_not_as_failed(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    tasks = [{"id": "ok", "question": SEED_QUESTION}, {"id": "cut", "question": "y #fault=length"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    assert batch(str(source), "-o", str(out), "--base-url", emu.base_url)[0] == 3
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 3 and "sending 0 (2 already done in" in err and "failed for good" not in err


def test_the_exit_code_of_a_batch_judges_only_the_tasks_of_its_input(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    # OUTPUT also holds a failed line of a task that is no longer in INPUT: it does not fail this batch.
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "out.jsonl"
    failed = {"type": "BadRequestError", "message": "no", "request_id": None, "retryable": False}
    out.write_text(json.dumps({"id": "gone", "status": "failed", "result": None, "error": failed}) + "\n")
    code, _ = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and len(emu.requests) == 1


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(59.94, "59.9s"), (60, "1m00s"), (75, "1m15s"), (3599, "59m59s"), (3600, "1h00m"), (5400, "1h30m")],
)
def test_the_summary_shows_a_wall_time_under_a_minute_in_seconds_then_minutes_then_hours(
    seconds: float, shown: str
) -> None:
    progress = Progress(total=1, started_at=100.0)
    assert f"; wall time {shown}.\n" in progress.summary(100.0 + seconds)


@pytest.mark.parametrize("extra", [0, 1], ids=["exactly the cap", "one byte over"])
def test_an_output_line_exactly_as_long_as_the_cap_is_read_and_the_line_after_a_longer_one_is_kept(
    tmp_path: Path, emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    monkeypatch.setattr(batch_output, "MAX_LINE_BYTES", 256)
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    a = json.dumps({"id": "a", "status": "completed", "result": None, "error": None})
    a = a[:-1] + " " * (256 + extra - len(a) - 1) + "}"  # blanks inside the object: still one JSON line
    b = json.dumps({"id": "b", "status": "completed", "result": None, "error": None})
    out.write_text(a + "\n" + b + "\n", encoding="utf-8")
    assert len((a + "\n").encode()) == 256 + extra
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    # At the cap the line is whole, so both are done; one byte over, a's line is skipped but not b's.
    assert code == 0 and (f"sending {extra} ({2 - extra} already done in" in err)
    assert len(emu.requests) == extra
