"""Text renderings of a result, shared by to_markdown(), the CLI, MCP content and LangChain content."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._types import CodeInterpreterResult, Usage

__all__ = ["result_markdown", "usage_line"]

_NO_CODE = "The OpenAI-compatible protocol does not return the code the interpreter ran (use protocol 'dashscope' or 'responses')."
_NO_OUTPUT = "output not returned by this protocol (only 'responses' returns it)"


def usage_line(usage: Usage) -> str:
    return (
        f"{usage.input_tokens} input + {usage.output_tokens} output tokens "
        f"({usage.reasoning_tokens} reasoning), {usage.total_tokens} total; "
        f"code interpreter calls: {usage.code_interpreter_calls}"
    )


def _fence(text: str, lang: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def result_markdown(
    result: CodeInterpreterResult, *, include_reasoning: bool = False, max_chars: int | None = None
) -> str:
    """Answer first, then the code that ran (and its output where known), then usage.

    ``max_chars`` caps the whole text; the answer is kept whole where possible and the cut is said.
    """
    parts: list[str] = []
    if result.status != "completed":
        parts.append(f"**Incomplete result** (finish reason: {result.finish_reason or 'none'}).")
    parts.append("## Answer\n\n" + (result.answer.strip() or "_(no answer text)_"))
    if include_reasoning and result.reasoning:
        # One paragraph block per reasoning segment: the model reasons again after each run.
        segments = [s.text.strip() for s in result.steps if s.kind == "reasoning" and s.text.strip()]
        parts.append("## Reasoning\n\n" + "\n\n".join(segments or [result.reasoning.strip()]))
    if result.code_runs:
        lines = ["## Code run by the interpreter"]
        for run in result.code_runs:
            lines.append(f"### Run #{run.index + 1}\n\n" + _fence(run.code, "python"))
            if run.output is not None:
                lines.append("Output:\n\n" + _fence(run.output or "(no output)"))
            else:
                lines.append(f"_Output: {_NO_OUTPUT}._")
        parts.append("\n\n".join(lines))
    elif not result.code_returned:
        parts.append("## Code run by the interpreter\n\n_" + _NO_CODE + "_")
    rid = f"; request id {result.request_id}" if result.request_id else ""
    parts.append(f"## Usage\n\n{usage_line(result.usage)}; model {result.model} via {result.protocol}{rid}.")
    text = "\n\n".join(parts) + "\n"
    if max_chars is not None and len(text) > max_chars:
        note = f"\n\n[truncated: {len(text) - max_chars:,} more characters; the full record is in the structured result]\n"
        text = text[: max(0, max_chars - len(note))] + note
    return text
