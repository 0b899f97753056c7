"""Result texts trim what surrounds a text (issue 26: the KINDS=more pass over _result.py)."""

from __future__ import annotations

from qwen_ci_tool import CodeInterpreterResult, Usage


def _result(answer: str, reasoning: str = "") -> CodeInterpreterResult:
    return CodeInterpreterResult(
        answer=answer,
        reasoning=reasoning,
        code_runs=(),
        steps=(),
        usage=Usage(),
        request_id="r-1",
        model="m",
        protocol="responses",
        finish_reason="stop",
        status="completed",
    )


def test_an_exported_scripts_answer_comment_ends_with_the_answer_not_empty_comment_lines() -> None:
    # Break: `text.strip()` dropped in `_comment`: a "#" line for each blank line after the answer.
    script = _result("The answer is 42.\n\n").to_script()
    comment = script[script.index("# Answer:") :].rstrip("\n").splitlines()
    assert comment == ["# Answer:", "# The answer is 42."]


def test_reasoning_without_segments_is_shown_trimmed() -> None:
    # Break: `result.reasoning.strip()` -> `result.reasoning`: the blank lines around it shown as they came.
    markdown = _result("42", reasoning="\n\n  I will compute it.  \n\n").to_markdown(include_reasoning=True)
    assert "## Reasoning\n\nI will compute it.\n" in markdown or markdown.endswith("## Reasoning\n\nI will compute it.")
