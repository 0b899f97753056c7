"""How a failure (or an unfinished answer) is told to a model, and the error as data.

The MCP tool and the LangChain tool give a model :func:`for_agent` / :func:`incomplete_for_agent`,
each with its own :class:`~qwen_ci_tool._knobs.Knobs`, so the "what to do" part names that face's
settings; whether calling again can help comes from :attr:`QwenCIError.retryable` alone
(:func:`retry_advice`); the MCP server words a call it cancelled itself with :func:`agent_text`.
:func:`error_dict` is the one JSON shape of an error (batch lines, ``ask --json``,
the LangChain tool's error delta).
"""

from __future__ import annotations

import math
from typing import Any

from ._exceptions import APIStatusError, QwenCIError, RateLimitError, error_retryable
from ._knobs import Knobs
from ._result import CodeInterpreterResult, result_markdown

__all__ = [
    "RETRY_TRANSIENT",
    "agent_text",
    "error_dict",
    "for_agent",
    "incomplete_for_agent",
    "incomplete_note",
    "retry_advice",
]

#: Shortest room left for a partial result when the text is capped.
_MIN_PARTIAL_CHARS = 200


def retry_advice(err: QwenCIError) -> str:
    """Whether calling again can help, as one sentence for a model: the same on every surface."""
    if not err.retryable:
        return "Calling again: will not help - the same call fails the same way, so do not retry it unchanged."
    if isinstance(err, RateLimitError):
        wait = f"{math.ceil(err.retry_after)} s, as the service asked," if err.retry_after else "a while"
        return f"Calling again: may work after a wait - wait {wait} before calling again; do not retry in a tight loop."
    return RETRY_TRANSIENT


#: Whether calling again can help, for a failure that looks transient.
RETRY_TRANSIENT = (
    "Calling again: may work - this looks transient; wait a few seconds and call again "
    "(a new call starts from scratch and is billed again)."
)


def for_agent(
    err: QwenCIError,
    knobs: Knobs,
    *,
    tool: str,
    include_reasoning: bool = False,
    max_chars: int | None = None,
) -> str:
    """The text a model reads when a tool call failed: what happened, whether calling again can
    help, what to do (in *knobs*' terms), and what arrived before the failure."""
    head = f"The {tool} call failed ({type(err).__name__}): {err.describe(knobs)}"
    return agent_text([head, retry_advice(err)], err.partial, include_reasoning, max_chars)


def agent_text(
    parts: list[str], partial: CodeInterpreterResult | None, include_reasoning: bool, max_chars: int | None
) -> str:
    """*parts* (what happened, whether calling again can help), then what arrived before the failure
    (an answer or a code run; with *include_reasoning*, reasoning alone too), all within *max_chars*:
    the shape of every failure text a model reads."""
    if partial is not None and (
        partial.answer.strip() or partial.code_runs or (include_reasoning and partial.reasoning.strip())
    ):
        parts = [
            *parts,
            "What arrived before the failure is below. It is incomplete: do not present it as a verified answer.",
        ]
        used = sum(len(p) + 2 for p in parts)
        budget = None if max_chars is None else max(max_chars - used - 2, _MIN_PARTIAL_CHARS)
        parts.append(result_markdown(partial, include_reasoning=include_reasoning, max_chars=budget))
    return "\n\n".join(parts)


def incomplete_note(result: CodeInterpreterResult) -> str:
    """What every surface says about a result that did not finish (e.g. the length limit)."""
    return (
        f"Qwen stopped before finishing (finish reason: {result.finish_reason or 'none'}); the answer "
        "below may be cut off or missing. Ask for a shorter answer or split the task into smaller calls."
    )


def incomplete_for_agent(
    result: CodeInterpreterResult, *, include_reasoning: bool = False, max_chars: int | None = None
) -> str:
    """The text a model reads for a result that stream ended cleanly but did not finish."""
    head = incomplete_note(result)
    budget = None if max_chars is None else max(max_chars - len(head) - 2, _MIN_PARTIAL_CHARS)
    return f"{head}\n\n{result_markdown(result, include_reasoning=include_reasoning, max_chars=budget)}"


def error_dict(err: BaseException, knobs: Knobs, *, service_fields: bool = True) -> dict[str, Any]:
    """The error as JSON-able data, the one builder for ``ask --json``, batch output lines and the
    LangChain tool's error delta:
    ``type``, ``message`` (what to do in *knobs*' terms), ``request_id``, ``retryable`` and, with
    *service_fields*, the service's ``status_code`` and ``code``. Anything but a
    :class:`QwenCIError` is a bug: its text, not retryable."""
    data: dict[str, Any] = {
        "type": type(err).__name__,
        "message": err.describe(knobs) if isinstance(err, QwenCIError) else str(err),
        "request_id": getattr(err, "request_id", None),
        "retryable": error_retryable(err),
    }
    if service_fields:
        data["status_code"] = err.status_code if isinstance(err, APIStatusError) else None
        data["code"] = err.code if isinstance(err, APIStatusError) else None
    return data
