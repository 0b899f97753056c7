"""The record's size bookkeeping: ``fit_record`` counts each cut instead of dumping the record again."""

from __future__ import annotations

from typing import Any

from mcp_server._fit import CUT_MARK, copy_record, fit_record, size_of
from mcp_server.runs.results import Results
from qwen_ci_tool import CodeInterpreterResult

# Texts whose JSON is longer than they are: quotes, backslashes, newlines, control characters,
# and characters outside ASCII (kept as they are: the budget counts characters, not bytes).
ODD = 'say "hi"\\n\tline\n\x01 é 中 😀 \u2028 '


def _record() -> dict[str, Any]:
    return {
        "answer": ODD * 20,
        "reasoning": ODD * 60,
        "code_runs": [
            {"index": 0, "code": ODD * 15, "output": ODD * 30, "container_id": None},
            {"index": 1, "code": "print(1)", "output": None, "container_id": None},
            {"index": 2, "code": ODD * 5, "output": "", "container_id": "c-1"},
        ],
        "steps": [{"kind": "answer", "chars": 10, "code_run": None}],
        "usage": {"input_tokens": 1},
        "timings": {"total_time": 0.25},
        "truncated": [],
    }


def test_a_cut_record_is_as_long_as_the_size_it_reports_whatever_its_texts_hold() -> None:
    whole = size_of(_record())
    for budget in [0, 50, 300, 1_000, whole // 3, whole // 2, whole - 200, whole - 1, whole, whole + 10]:
        for known in (None, whole):
            record = _record()
            size = fit_record(record, budget, known)
            assert size == size_of(record), f"budget {budget}: reported {size}, the record is {size_of(record)}"
            if record["code_runs"][2]["code"] != CUT_MARK:  # it stopped before cutting every text
                assert size <= budget


def test_cutting_a_copy_leaves_the_record_it_was_copied_from_whole() -> None:
    record = _record()
    copy = copy_record(record)
    fit_record(copy, 0)
    assert record == _record()
    assert copy["truncated"] and copy["reasoning"] == CUT_MARK and copy["code_runs"][0]["code"] == CUT_MARK


def test_a_result_cut_again_for_its_size_in_bytes_names_the_servers_max_output_chars() -> None:
    # Characters of four bytes each: the first fit is too big for one event, the budget is cut again.
    result = CodeInterpreterResult.from_dict({"answer": "😀" * 400_000, "status": "completed", "protocol": "responses"})
    packed = Results(1_000_000, None).success(result, include_reasoning=False)
    text = packed.content[0].text  # type: ignore[union-attr]
    assert "[structuredContent was cut to fit this server's --max-output-chars (1,000,000): " in text
    # Each pass cuts a fresh copy of the whole record: one note, counted against the whole answer.
    (note,) = packed.structured_content["truncated"]  # type: ignore[index]
    assert note.startswith("answer (kept ") and note.endswith(" of 400,000 characters)")
