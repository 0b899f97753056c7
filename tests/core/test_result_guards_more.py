"""A result's exports where a dropped clause or exception type changes what a user runs or reads
(the mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from typing import Any

import pytest

from qwen_ci_tool import CodeInterpreterResult, Timings, Usage


def _result(**fields: Any) -> CodeInterpreterResult:
    data: dict[str, Any] = {"answer": "42", "protocol": "responses", "model": "qwen3-max", "status": "completed"}
    return CodeInterpreterResult.from_dict({**data, **fields})


def _runs(*codes: str) -> CodeInterpreterResult:
    return _result(
        code_runs=[{"index": i, "code": code, "output": None} for i, code in enumerate(codes)],
        steps=[{"kind": "code", "text": code, "code_run": i} for i, code in enumerate(codes)],
    )


def _printed(script: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script, "<exported>", "exec"), {})
    return out.getvalue()


def test_an_exported_script_whose_first_run_shows_a_value_and_last_does_not_still_defines_the_helper() -> None:
    script = _runs("6 * 7", "y = 1").to_script()
    assert "_show(6 * 7)" in script and "def _show(value):" in script
    assert _printed(script) == "42\n"


def test_an_exported_script_leaves_a_last_expression_sharing_its_line_as_it_came() -> None:
    script = _runs("x = 1; x").to_script()
    assert "# --- code run #1 ---\nx = 1; x\n" in script and "_show" not in script
    assert _printed(script) == ""


def test_an_exported_script_shows_the_value_of_a_last_method_call() -> None:
    script = _runs("'abc'.upper()").to_script()
    assert "_show('abc'.upper())" in script
    assert _printed(script) == "'ABC'\n"


def test_an_exported_script_keeps_code_nested_past_the_parsers_depth_as_it_came() -> None:
    code = "a" + ".b" * 200_000  # the parser gives up with a RecursionError
    script = _runs(code).to_script()
    assert f"# --- code run #1 ---\n{code}\n" in script and "_show" not in script


def test_markdown_with_reasoning_asked_for_but_none_given_has_no_empty_reasoning_section() -> None:
    text = _runs("print(1)").to_markdown(include_reasoning=True)
    assert "Reasoning" not in text
    assert "## Reasoning\n\nwhy" in _result(reasoning="why").to_markdown(include_reasoning=True)


def test_a_result_is_immutable() -> None:
    result = _runs("print(1)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.answer = "changed"  # type: ignore[misc]
    assert result.answer == "42"


def test_a_result_built_without_timings_or_code_returned_has_no_timings_and_says_code_is_returned() -> None:
    built = CodeInterpreterResult(
        answer="42",
        reasoning="",
        code_runs=(),
        steps=(),
        usage=Usage(),
        request_id=None,
        model="qwen3-max",
        protocol="dashscope",
        finish_reason="stop",
        status="completed",
    )
    assert built.timings == Timings() and built.timings.time_to_first_event is None
    assert built.code_returned is True
    assert "does not return the code" not in built.to_markdown()
