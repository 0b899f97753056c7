"""DashScope native protocol: the full record, code included (``tool_info``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._constants import NATIVE_MULTIMODAL_PATH, NATIVE_TEXT_PATH
from .._errors import ErrorContext, error_from_body
from .._types import (
    AnswerDelta,
    CodeRunUpdated,
    ReasoningDelta,
    StreamEvent,
    StreamStarted,
    Usage,
    UsageUpdated,
)
from ._base import RequestSpec, base_headers, dumps, loads, text_of

if TYPE_CHECKING:
    from .._config import Settings
    from .._sse import SSEEvent


_scan = json.JSONDecoder().scan_once


def _parse(data: bytes) -> Any:
    """``loads(data)``, minus work a native frame never needs.

    ``json.loads`` on bytes sniffs the encoding, decodes, then runs the scanner between two regex
    matches for surrounding whitespace. A frame that starts with ``{"`` is UTF-8 by that same sniff
    (RFC 8259's rule), so decode it as ``json.loads`` would and scan it directly; anything else -
    whitespace around the object, bad bytes, bad JSON - goes through :func:`loads`, which gives the
    same value or raises the same error as before.
    """
    if data[:2] == b'{"':
        try:
            text = data.decode("utf-8", "surrogatepass")
            obj, end = _scan(text, 0)
        except (ValueError, StopIteration):
            return loads(data)
        if end == len(text):
            return obj
    return loads(data)


def native_usage(raw: dict[str, Any]) -> Usage:
    details = raw.get("output_tokens_details") or {}
    plugins = raw.get("plugins") or {}
    interpreter = plugins.get("code_interpreter") or {}
    return Usage(
        input_tokens=raw.get("input_tokens") or 0,
        output_tokens=raw.get("output_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens") or 0,
        total_tokens=raw.get("total_tokens") or 0,
        code_interpreter_calls=interpreter.get("count") or 0,
    )


class NativeDecoder:
    __slots__ = ("_codes", "_context", "_header_rid", "_started", "_usage", "done", "finish_reason")

    def __init__(self, context: ErrorContext, header_request_id: str | None) -> None:
        self._context = context
        self._header_rid = header_request_id
        self._started = False
        self._codes: list[str] = []
        self._usage: Any = None
        self.finish_reason: str | None = None
        self.done = False

    def decode(self, sse: SSEEvent) -> list[StreamEvent]:
        if sse.event == "error" or sse.status is not None:
            raise self._error(sse.status or 400, loads(sse.data) if sse.data else b"")
        obj = _parse(sse.data)
        if not isinstance(obj, dict):
            return []
        output = obj.get("output")
        if not isinstance(output, dict):
            if obj.get("code"):
                raise self._error(400, obj)
            return []  # an unknown frame kind: ignored, for forward compatibility
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(StreamStarted(obj.get("request_id") or self._header_rid, self._context.model, "dashscope"))
        choices = output.get("choices")
        choice = choices[0] if choices else None
        message = choice.get("message") if choice else None
        if message:
            reasoning = message.get("reasoning_content")
            if reasoning:
                events.append(ReasoningDelta(reasoning))
        tool_info = output.get("tool_info")
        if tool_info:
            self._tools(tool_info, events)
        if message:
            content = message.get("content")
            if content:
                text = content if isinstance(content, str) else text_of(content)
                if text:
                    events.append(AnswerDelta(text))
        if choice:
            reason = choice.get("finish_reason")
            if reason and reason != "null":
                self.finish_reason = reason
        usage = obj.get("usage")
        if usage and usage != self._usage:
            self._usage = usage
            events.append(UsageUpdated(native_usage(usage)))
        return events

    def _tools(self, tool_info: list[Any], events: list[StreamEvent]) -> None:
        # tool_info is cumulative: every frame repeats every run so far. Only changes are events.
        codes = self._codes
        index = 0
        for entry in tool_info:
            interpreter = entry.get("code_interpreter") if isinstance(entry, dict) else None
            if not isinstance(interpreter, dict):
                continue
            code = interpreter.get("code") or ""
            if index < len(codes):
                if code != codes[index]:
                    codes[index] = code
                    events.append(CodeRunUpdated(index, code))
            else:
                codes.append(code)
                events.append(CodeRunUpdated(index, code, is_new=True))
            index += 1

    def _error(self, status: int, body: Any) -> Exception:
        return error_from_body(
            status, body if isinstance(body, dict) else b"", request_id=self._header_rid, context=self._context
        )


class NativeProtocol:
    name = "dashscope"
    ends_at_eof = True

    def build_request(self, settings: Settings, messages: list[dict[str, Any]]) -> RequestSpec:
        multimodal = settings.model_info.native_endpoint == "multimodal-generation"
        if multimodal:
            # The multimodal path takes content as a list of parts.
            messages = [
                {**m, "content": [{"text": m["content"]}]} if isinstance(m.get("content"), str) else m
                for m in messages
            ]
        parameters: dict[str, Any] = {
            "enable_code_interpreter": True,
            "enable_thinking": True,
            "result_format": "message",
            "incremental_output": True,
        }
        parameters.update(settings.extra_parameters)
        headers = base_headers(settings)
        headers["X-DashScope-SSE"] = "enable"
        headers["X-Accel-Buffering"] = "no"
        body = {"model": settings.model, "input": {"messages": messages}, "parameters": parameters}
        path = NATIVE_MULTIMODAL_PATH if multimodal else NATIVE_TEXT_PATH
        return RequestSpec(settings.base_url + path, headers, dumps(body))

    def decoder(self, context: ErrorContext, header_request_id: str | None) -> NativeDecoder:
        return NativeDecoder(context, header_request_id)


NATIVE = NativeProtocol()
