"""A result's exports where a dropped clause or exception type changes what a user runs or reads
(the mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from qwen_ci_tool import CodeInterpreterResult


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
