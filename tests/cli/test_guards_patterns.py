"""Guards from a sweep of break patterns other than boundaries (issue 26): a condition dropped, a
``not`` flipped, ``continue`` for ``break``, a wrong field read. Each test here was checked to fail
with its one-line break of the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool._batch import BatchTask
from qwen_ci_tool.cli.batch import _state_of, read_tasks
from qwen_ci_tool.cli.batch_output import _end_last_line, plan_resume, read_output


def _line(task_id: str, status: str, error: dict[str, object] | None = None) -> str:
    return json.dumps({"id": task_id, "status": status, **({"error": error} if error else {})})


def test_a_failed_line_without_a_retryable_flag_is_failed_for_good() -> None:
    states = read_output([_line("a", "failed", {"type": "BadRequestError"})])
    assert states["a"].retryable is False
    plan = plan_resume([BatchTask("a", question="q")], states, retry_failed=True)
    assert plan.to_send == [] and plan.kept_permanent == 1 and plan.resent == 0


def test_with_retry_failed_a_retryable_failure_is_sent_again_and_a_permanent_one_kept() -> None:
    states = read_output(
        [
            _line("r", "failed", {"type": "RateLimitError", "retryable": True}),
            _line("p", "failed", {"retryable": False}),
        ]
    )
    plan = plan_resume([BatchTask("r", question="q"), BatchTask("p", question="q")], states, retry_failed=True)
    assert [t.id for t in plan.to_send] == ["r"] and plan.resent == 1 and plan.kept_permanent == 1


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            b'{"id":"a"}\n{"id":"b"}\n', b'{"id":"a"}\n{"id":"b"}\n', id="ending in a whole line: left as it is"
        ),
        pytest.param(b'{"id":"a","status":"comp', b"", id="one cut line: emptied"),
        pytest.param(b'{"id":"a"}\n{"id":"b","sta', b'{"id":"a"}\n', id="a cut line after a whole one: removed"),
        pytest.param(
            b'{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n{"id":"d","st',
            b'{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n',
            id="a cut line after several: only it removed",
        ),
        pytest.param(
            b'{"id":"a"}\n' + b'{"id":"b","answer":"' + b"y" * (70 * 1024) + b'"}\n{"id":"c","st',
            b'{"id":"a"}\n' + b'{"id":"b","answer":"' + b"y" * (70 * 1024) + b'"}\n',
            id="a cut line after a line longer than a read block: only it removed",
        ),
        pytest.param(b'{"id":"a"}\n{"id":"b"}', b'{"id":"a"}\n{"id":"b"}\n', id="a whole last line: given its newline"),
        pytest.param(b"notes\nlast words", b"notes\nlast words\n", id="another kind of file: its last line kept"),
        pytest.param(b"x" * (70 * 1024), b"x" * (70 * 1024) + b"\n", id="one long line of another kind: kept"),
        pytest.param(b"notes\nx", b"notes\nx\n", id="a last line of one character: kept, given its newline"),
        pytest.param(
            b'{"id":"a"}\n' + b'{"id":"b","answer":"' + b"y" * (64 * 1024 - 21),
            b'{"id":"a"}\n',
            id="a cut line one byte shorter than a read block: only it removed",
        ),
        pytest.param(
            b'{"id":"b","answer":"' + b"y" * (64 * 1024 + 1 - 20),
            b"",
            id="a cut line alone, one byte longer than a read block: removed",
        ),
    ],
)
def test_an_output_keeps_its_whole_lines_and_loses_only_a_cut_last_line(
    tmp_path: Path, before: bytes, after: bytes
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(before)
    fd = os.open(path, os.O_RDWR)
    try:
        _end_last_line(fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == after


def test_an_id_used_twice_is_refused_naming_the_first_line() -> None:
    with pytest.raises(ConfigurationError, match=r'duplicate id "a" \(first on line 1\)'):
        read_tasks(['{"id": "a", "question": "q"}', '{"id": "a", "question": "again"}'])


def test_a_blank_id_is_refused() -> None:
    with pytest.raises(ConfigurationError, match='"id" must be a non-empty string, got "  "'):
        read_tasks(['{"id": "  ", "question": "q"}'])


def test_a_numeric_id_is_refused_with_the_string_to_write_instead() -> None:
    with pytest.raises(ConfigurationError, match=r'got 7 \(write "id": "7"\)'):
        read_tasks(['{"id": 7, "question": "q"}'])


def test_a_task_with_only_messages_or_only_a_question_is_accepted() -> None:
    tasks = read_tasks(
        ['{"id": "q", "question": "two plus two"}', '{"id": "m", "messages": [{"role": "user", "content": "hi"}]}']
    )
    assert [t.id for t in tasks] == ["q", "m"]


def test_every_bad_line_is_reported_not_only_the_first() -> None:
    with pytest.raises(ConfigurationError) as caught:
        read_tasks(["{bad", '{"id": "ok", "question": "q"}', "[1]"])
    assert "has 2 problems" in caught.value.message
    assert "line 1: not valid JSON" in caught.value.message and "line 3: a JSON list" in caught.value.message


def test_the_summary_counts_a_retryable_incomplete_answer_as_nothing_to_retry() -> None:
    states = read_output([_line("a", "incomplete", {"retryable": True}), _line("b", "failed", {"retryable": True})])
    text = _state_of("out.jsonl", states)
    assert "1 failed but may succeed if sent again" in text


def test_the_tally_of_standard_output_says_how_to_resend_failures_only_when_some_failed() -> None:
    done = read_output([_line("a", "completed")])
    assert (
        _state_of("standard output", done, resumes=False) == "standard output: 1 completed, 0 incomplete, 0 failed.\n"
    )
    failed = read_output([_line("a", "failed", {"retryable": True})])
    text = _state_of("standard output", failed, resumes=False)
    assert text.endswith(
        "  To send the failed ones again: standard output is not read back, so the same command "
        "sends every task again; write to a file (-o results.jsonl) to resume.\n"
    )
