"""Limits of the command line tested exactly at their boundary and one past it, and rules over every
item tested with two items where the second one matters (a proactive sweep after the fourth mutation
audit, issue 26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_ci_tool.testing import Emulator

from .test_batch import batch


@pytest.mark.parametrize(("count", "more"), [(1, None), (2, None), (20, None), (21, "... and 1 more")])
def test_input_problems_are_listed_up_to_twenty_then_counted(
    tmp_path: Path, emu: Emulator, keyed: None, count: int, more: str | None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{not json\n" * count, encoding="utf-8")
    code, err = batch(str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", emu.base_url)
    noun = "problem" if count == 1 else "problems"
    assert code == 2 and f"has {count} {noun}; nothing was sent" in err
    listed = [n for n in range(1, count + 1) if f"line {n}: not valid JSON" in err]
    assert listed == list(range(1, min(count, 20) + 1))
    assert (more in err) if more else ("more" not in err)
    assert emu.requests == []


def test_a_failed_tasks_log_line_quotes_the_first_200_characters_of_its_error_and_marks_a_cut() -> None:
    from qwen_ci_tool import BatchOutcome, InternalServerError
    from qwen_ci_tool.cli.batch import Progress

    def line(message: str) -> str:
        progress = Progress(total=1, started_at=0.0)
        outcome = BatchOutcome("a", "failed", error=InternalServerError(message, status_code=500))
        progress.add(outcome)
        return progress.line(outcome)

    # No space to cut at: the 200 characters themselves; exactly 200: whole, no mark.
    assert line("e" * 199 + "Z" + "w" * 50).endswith(": " + "e" * 199 + "Z [...]")
    assert line("e" * 199 + "Z").endswith(": " + "e" * 199 + "Z")
