"""A run's outcome as a tool result: readable text plus ``structuredContent``, within the output budget.

The text may take at most half of ``max_output_chars``; the record takes what the text left, cut
where needed (see ``_fit``), and the text then says what was cut. The key never appears in either:
an answer or a code output that echoes it is masked in the text and in the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.types import CallToolResult, TextContent

from qwen_ci_tool import CodeInterpreterResult, QwenCIError
from qwen_ci_tool._explain import RETRY_TRANSIENT, agent_text, for_agent, incomplete_for_agent
from qwen_ci_tool._result import result_markdown
from qwen_ci_tool._secret import Secret

from .._constants import DEFAULT_MAX_OUTPUT_CHARS, TOOL_NAME
from .._fit import MAX_RESULT_BYTES, compact_record, copy_record, fit_record, size_of
from .._texts import MCP

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "MIN_OUTPUT_CHARS", "Results", "text_result"]

#: Smallest cap accepted: below this even an error message and the record's skeleton would be cut.
MIN_OUTPUT_CHARS = 2_000
#: Characters kept free in the budget for the note saying what was cut from structuredContent.
_CUT_NOTE_ROOM = 400
#: The text is never cut below this (an error message must stay whole).
_MIN_TEXT_CHARS = 500


def _masked(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: _masked(v, clean) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, clean) for v in value]
    return value


def text_result(text: str, *, is_error: bool, structured: dict[str, Any] | None = None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured, is_error=is_error
    )


class Results:
    """Builds the tool results of one server: its output budget and the key to keep out of texts."""

    def __init__(self, max_output_chars: int, key: Secret | None) -> None:
        self.max_output_chars = max_output_chars
        self._key = key

    def _clean(self, text: str) -> str:
        return self._key.redact(text) if self._key is not None else text

    def _clean_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """*record* with the key masked in every text (an answer or a code output may echo it)."""
        if self._key is None or self._key.get_secret_value() not in repr(record):
            return record  # the common case: one scan, no copy
        masked: dict[str, Any] = _masked(record, self._clean)
        return masked

    def success(self, result: CodeInterpreterResult, include_reasoning: bool) -> CallToolResult:
        if result.status == "completed":
            return self._package(
                lambda cap: result_markdown(result, include_reasoning=include_reasoning, max_chars=cap), False, result
            )
        # The stream ended cleanly but the model did not finish (e.g. its length limit): an error the
        # model must not mistake for an answer, with what arrived kept.
        return self._package(
            lambda cap: incomplete_for_agent(result, include_reasoning=include_reasoning, max_chars=cap), True, result
        )

    def failure(self, err: QwenCIError, include_reasoning: bool) -> CallToolResult:
        # Returned rather than raised as ToolError: an error result can still carry the partial
        # record as structuredContent (the SDK does not check error results against the schema).
        return self._package(
            lambda cap: for_agent(err, MCP, tool=TOOL_NAME, include_reasoning=include_reasoning, max_chars=cap),
            True,
            err.partial,
        )

    def cancelled(self, reason: str, partial: CodeInterpreterResult | None, include_reasoning: bool) -> CallToolResult:
        # The server cancelled the call (e.g. while shutting down): calling again may work.
        head = f"The {TOOL_NAME} call was cancelled: {reason}."
        return self._package(
            lambda cap: agent_text([head, RETRY_TRANSIENT], partial, include_reasoning, cap), True, partial
        )

    def _package(
        self, make_text: Callable[[int], str], is_error: bool, result: CodeInterpreterResult | None
    ) -> CallToolResult:
        """Text and structuredContent within ``max_output_chars`` together, and within one SSE event."""
        budget = self.max_output_chars
        record = self._clean_record(compact_record(result)) if result is not None else None
        whole = size_of(record) if record is not None else 0  # the record's size, dumped once
        # What the record takes with every text cut away: the text must leave room for it.
        skeleton = fit_record(copy_record(record), 0, whole) + _CUT_NOTE_ROOM if record is not None else 0
        while True:
            text = self._clean(make_text(max(min(budget // 2, budget - skeleton), _MIN_TEXT_CHARS)))
            structured = None
            if record is not None:
                structured = copy_record(record)
                fit_record(structured, budget - len(text) - _CUT_NOTE_ROOM, whole)
                if structured["truncated"]:
                    text += (
                        f"\n[structuredContent was cut to fit this server's --max-output-chars "
                        f"({self.max_output_chars:,}): {'; '.join(structured['truncated'])[: _CUT_NOTE_ROOM - 120]}]\n"
                    )
            packed = text_result(text, is_error=is_error, structured=structured)
            size = len(packed.model_dump_json(by_alias=True, exclude_none=True).encode())
            if size <= MAX_RESULT_BYTES or budget <= MIN_OUTPUT_CHARS:
                return packed
            # Characters that take several bytes each: try again with the budget this size allows.
            budget = max(MIN_OUTPUT_CHARS, int(budget * MAX_RESULT_BYTES / size * 0.9))
