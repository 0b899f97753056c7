"""The result of a call, the event that carries it, and its renderings.

:class:`CodeInterpreterResult` and its text renderings (Markdown for people and models, a script,
a notebook) live together: the MCP content, the LangChain content and the CLI's output all use
:func:`result_markdown`. Where a protocol returns no code (or no output), the text names the
protocols that do, from the registry.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Literal

from ._protocols import PROTOCOLS, returning
from ._types import CodeRun, DecodedEvent, Step, Timings, Usage

__all__ = [
    "CodeInterpreterResult",
    "Completed",
    "ResultStatus",
    "StreamEvent",
    "result_markdown",
]

ResultStatus = Literal["completed", "incomplete"]


def returns_code(protocol: str) -> bool:
    """Whether *protocol* returns the code it ran (an unknown name: assume it does)."""
    known = PROTOCOLS.get(protocol)
    return known.returns_code if known is not None else True


@dataclass(frozen=True, slots=True)
class CodeInterpreterResult:
    """Everything one code-interpreter call produced: answer, reasoning, code runs, usage."""

    answer: str
    reasoning: str
    code_runs: tuple[CodeRun, ...]
    steps: tuple[Step, ...]
    usage: Usage
    request_id: str | None
    model: str
    protocol: str
    finish_reason: str | None
    status: ResultStatus
    timings: Timings = field(default_factory=Timings)
    #: Whether this protocol returns the executed code at all (``openai`` does not).
    code_returned: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {
            "answer": self.answer,
            "reasoning": self.reasoning,
            "code_runs": [run.to_dict() for run in self.code_runs],
            "steps": [step.to_dict() for step in self.steps],
            "usage": self.usage.to_dict(),
            "request_id": self.request_id,
            "model": self.model,
            "protocol": self.protocol,
            "finish_reason": self.finish_reason,
            "status": self.status,
            "code_returned": self.code_returned,
            "timings": self.timings.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeInterpreterResult:
        return cls(
            answer=data["answer"],
            reasoning=data.get("reasoning", ""),
            code_runs=tuple(CodeRun(**run) for run in data.get("code_runs", ())),
            steps=tuple(Step(**step) for step in data.get("steps", ())),
            usage=Usage(**data.get("usage", {})),
            request_id=data.get("request_id"),
            model=data.get("model", ""),
            protocol=data.get("protocol", ""),
            finish_reason=data.get("finish_reason"),
            status=data.get("status", "incomplete"),
            timings=Timings(**data.get("timings", {})),
            code_returned=data.get("code_returned", returns_code(data.get("protocol", ""))),
        )

    def to_markdown(self, *, include_reasoning: bool = False) -> str:
        """A readable record: the answer, each code run (with its output where known), usage."""
        return result_markdown(self, include_reasoning=include_reasoning)

    def to_script(self) -> str:
        """The run as a Python script, to re-run the model's code locally: the code runs in order;
        reasoning, the output where the protocol returned it, and the answer as comments.

        Running it prints what the sandbox printed (a bare last expression is printed, as the sandbox
        shows it), to compare with the hosted result.
        """
        parts = [_comment(_provenance(self))]
        if any(run.output is None for run in self.code_runs):
            parts.append(_comment(f"Output: {_no_output(self)}; running this script shows it."))
        runs = {run.index: run for run in self.code_runs}
        shows = False
        for step in self.steps:
            if step.kind == "reasoning" and step.text.strip():
                parts.append(_comment("Reasoning:\n" + step.text))
            elif step.kind == "code" and step.code_run in runs:
                run = runs[step.code_run]
                code, shown = _shown(run.code.rstrip())
                shows = shows or shown
                block = f"# --- code run #{run.index + 1} ---\n{code}"
                if run.output is not None:
                    block += "\n" + _comment(
                        "Output (as the remote sandbox printed it):\n" + (run.output or "(nothing)")
                    )
                parts.append(block)
        if not self.code_runs and not self.code_returned:
            parts.append(_comment(_no_code(self)))
        parts.append(_comment("Answer:\n" + (self.answer or "(no answer text)")))
        if shows:
            parts.insert(1, _SHOW_DEF)
        return "\n\n".join(parts) + "\n"

    def to_notebook(self) -> dict[str, Any]:
        """The run as a Jupyter notebook dict (nbformat 4; ``json.dump`` it to a ``.ipynb`` file):
        reasoning and answer as Markdown cells, each code run as a code cell whose output is what the
        remote sandbox printed, where known."""
        cells = [_cell("markdown", _provenance(self))]
        runs = {run.index: run for run in self.code_runs}
        for step in self.steps:
            if step.kind == "reasoning" and step.text.strip():
                quoted = "\n".join(f"> {line}" for line in step.text.strip().splitlines())
                cells.append(_cell("markdown", "**Reasoning**\n\n" + quoted))
            elif step.kind == "code" and step.code_run in runs:
                run = runs[step.code_run]
                printed = [] if run.output is None else [run.output.splitlines(keepends=True)]
                outputs = [{"output_type": "stream", "name": "stdout", "text": text} for text in printed]
                cells.append(_cell("code", run.code, execution_count=None, outputs=outputs))
        cells.append(_cell("markdown", "## Answer\n\n" + (self.answer or "_(no answer text)_")))
        return {
            # nbformat 4.5 requires a unique id on every cell (Jupyter refuses a notebook without them).
            "cells": [{"id": f"cell-{number}", **cell} for number, cell in enumerate(cells)],
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }

    def __str__(self) -> str:
        return self.answer


@dataclass(frozen=True, slots=True)
class Completed:
    """The stream ended normally; ``result`` is final."""

    result: CodeInterpreterResult


#: Every stream event: what the decoders yield, then :class:`Completed`.
StreamEvent = DecodedEvent | Completed


# --- renderings ---------------------------------------------------------------------------------


def _no_code(result: CodeInterpreterResult) -> str:
    others = " or ".join(map(repr, returning(code=True)))
    return f"Protocol {result.protocol!r} does not return the code the interpreter ran (use protocol {others})."


def _no_output(result: CodeInterpreterResult) -> str:
    names = returning(output=True)
    return (
        f"protocol {result.protocol!r} does not return what the code printed "
        f"(only {' and '.join(map(repr, names))} return{'s' if len(names) == 1 else ''} it)"
    )


def _fence(text: str, lang: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def result_markdown(
    result: CodeInterpreterResult,
    *,
    include_reasoning: bool = False,
    max_chars: int | None = None,
    note_missing_output: bool = True,
) -> str:
    """Answer first, then the code that ran (and its output where known), then usage.

    Where the protocol returned no output, one line says so after the code runs (not with
    ``note_missing_output=False``: the command line leaves it to ``--json`` and ``--export``).
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
        if note_missing_output and any(run.output is None for run in result.code_runs):
            lines.append(f"_Output: {_no_output(result)}._")
        parts.append("\n\n".join(lines))
    elif not result.code_returned:
        parts.append("## Code run by the interpreter\n\n_" + _no_code(result) + "_")
    rid = f"; request id {result.request_id}" if result.request_id else ""
    usage = result.usage
    parts.append(
        f"## Usage\n\n{usage.input_tokens} input + {usage.output_tokens} output tokens "
        f"({usage.reasoning_tokens} reasoning), {usage.total_tokens} total; "
        f"code interpreter calls: {usage.code_interpreter_calls}; model {result.model} via {result.protocol}{rid}."
    )
    text = "\n\n".join(parts) + "\n"
    if max_chars is not None and len(text) > max_chars:
        note = (
            f"\n\n[truncated: {len(text) - max_chars:,} more characters; the full record is in the structured result]\n"
        )
        text = text[: max(0, max_chars - len(note))] + note
    return text


def _provenance(result: CodeInterpreterResult) -> str:
    rid = f", request id {result.request_id}" if result.request_id else ""
    return f"Qwen code interpreter run: model {result.model} via {result.protocol}{rid}; status {result.status}."


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.strip().splitlines())


# The sandbox runs code as a notebook cell: the value of a bare last expression is shown. A script
# prints nothing for it, so the exported script passes that expression to this helper.
_SHOW = "_show"
_SHOW_DEF = f"""def {_SHOW}(value):
    # What a notebook cell (and the remote sandbox) shows for its last expression.
    if value is not None:
        print(repr(value))"""


def _shown(code: str) -> tuple[str, bool]:
    """The code with its bare last expression passed to ``_show``, and whether it was."""
    try:
        body = ast.parse(code).body
    except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
        # Not Python, a null byte, or nested past the parser's depth (CPython raises MemoryError or
        # RecursionError there); SystemError: CPython 3.11 parsing in two threads at once
        # (python/cpython#106905). The code is kept as it came, without the last value shown.
        return code, False
    last = body[-1] if body else None
    if (
        not isinstance(last, ast.Expr)
        or last.col_offset != 0  # shares its line with another statement: left as it is
        or code.rstrip().endswith(";")  # a trailing semicolon hides the value in a notebook too
        or (
            isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name) and last.value.func.id == "print"
        )
    ):
        return code, False
    lines = code.splitlines()
    start, end = last.lineno - 1, last.end_lineno or last.lineno
    expression = "\n".join(lines[start:end])
    return "\n".join([*lines[:start], f"{_SHOW}({expression})", *lines[end:]]), True


def _cell(kind: str, text: str, **more: Any) -> dict[str, Any]:
    return {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True), **more}
