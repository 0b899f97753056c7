"""Which standard ``server_tool_result`` block says "error": only a run whose output shows a
traceback, or the last run of a call that ended without its answer (it may not have finished)."""

from __future__ import annotations

from integrations.langchain import code_run_blocks
from qwen_ci_tool import CodeInterpreterResult, CodeRun, Usage


def _result(*, answer: str, status: str, runs: int = 2) -> CodeInterpreterResult:
    return CodeInterpreterResult(
        answer=answer,
        reasoning="",
        code_runs=tuple(CodeRun(i, f"x = {i}") for i in range(runs)),
        steps=(),
        usage=Usage(),
        request_id="rid-1",
        model="qwen3-max",
        protocol="dashscope",
        finish_reason="stop" if status == "completed" else None,
        status=status,  # type: ignore[arg-type]
    )


def _statuses(result: CodeInterpreterResult) -> list[str]:
    return [block["status"] for block in code_run_blocks(result)[1::2]]


def test_a_call_cut_off_before_its_answer_marks_only_its_last_run_as_an_error() -> None:
    assert _statuses(_result(answer="", status="incomplete")) == ["success", "error"]


def test_a_completed_call_with_an_empty_answer_has_only_successful_runs() -> None:
    assert _statuses(_result(answer="", status="completed")) == ["success", "success"]


def test_an_incomplete_call_that_already_answered_has_only_successful_runs() -> None:
    assert _statuses(_result(answer="42", status="incomplete")) == ["success", "success"]


def test_block_ids_carry_the_request_id() -> None:
    calls = code_run_blocks(_result(answer="42", status="completed"))[0::2]
    assert [b["id"] for b in calls] == ["rid-1-code-0", "rid-1-code-1"]
