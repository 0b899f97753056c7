"""Behaviours of the command line a one-line break left unguarded (the third mutation audit,
issue 26): each test here fails when its line breaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
