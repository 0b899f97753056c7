"""DashScope native protocol: the full record, code included (``tool_info``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._constants import NATIVE_MULTIMODAL_PATH, NATIVE_TEXT_PATH
from .._types import AnswerDelta, CodeRunUpdated, DecodedEvent, ReasoningDelta, UsageUpdated
from ._base import DecoderBase, RequestSpec, WireFailure, loads, post, text_of, usage_of

if TYPE_CHECKING:
    from .._settings import Settings
    from .._types import SSEEvent


class NativeDecoder(DecoderBase):
    __slots__ = ("_codes", "_usage")

    def __init__(self, model: str, header_request_id: str | None) -> None:
        super().__init__(model, header_request_id)
        self._codes: list[str] = []
        self._usage: Any = None

    def decode(self, sse: SSEEvent) -> list[DecodedEvent]:
        if sse.status is not None and (failure := self._status_failure(sse)) is not None:
            raise failure
        if sse.event == "error" or sse.status is not None:
            raise self._error(sse.status or 400, loads(sse.data) if sse.data else b"")
        obj = loads(sse.data)
        if not isinstance(obj, dict):
            return []
        output = obj.get("output")
        if not isinstance(output, dict):
            if obj.get("code"):
                raise self._error(400, obj)
            return []  # an unknown frame kind: ignored, for forward compatibility
        events: list[DecodedEvent] = []
        if not self._started:
            events.append(self._start(obj.get("request_id"), "dashscope"))
        choices = output.get("choices")
        choice = choices[0] if choices else None
        message = choice.get("message") if choice else None
        if message:
            reasoning = message.get("reasoning_content")
            if reasoning and type(reasoning) is str:
                events.append(ReasoningDelta(reasoning))
        tool_info = output.get("tool_info")
        if tool_info:
            self._tools(tool_info, events)
        if message:
            content = message.get("content")
            if content:
                text = text_of(content)
                if text:
                    events.append(AnswerDelta(text))
        if choice:
            reason = choice.get("finish_reason")
            if reason and reason != "null" and type(reason) is str:
                self.finish_reason = reason
        usage = obj.get("usage")
        if usage and usage != self._usage:
            self._usage = usage
            events.append(UsageUpdated(usage_of(usage, "plugins")))
        return events

    def _tools(self, tool_info: list[Any], events: list[DecodedEvent]) -> None:
        # tool_info is cumulative: every frame repeats every run so far. Only changes are events.
        codes = self._codes
        index = 0
        for entry in tool_info:
            interpreter = entry.get("code_interpreter") if isinstance(entry, dict) else None
            if not isinstance(interpreter, dict):
                continue
            code = interpreter.get("code")
            if type(code) is not str:
                code = ""
            if index < len(codes):
                if code != codes[index]:
                    codes[index] = code
                    events.append(CodeRunUpdated(index, code))
            else:
                codes.append(code)
                events.append(CodeRunUpdated(index, code, is_new=True))
            index += 1

    def _error(self, status: int, body: Any) -> WireFailure:
        return WireFailure(status, body if isinstance(body, dict) else b"")


class NativeProtocol:
    name = "dashscope"
    returns_code, returns_output = True, False
    ends_at_eof = True
    decoder = NativeDecoder

    def build_request(self, settings: Settings, messages: list[dict[str, Any]]) -> RequestSpec:
        multimodal = settings.model_info.native_endpoint == "multimodal-generation"
        if multimodal:
            # The multimodal path takes content as a list of parts.
            messages = [
                {**m, "content": [{"text": m["content"]}]} if isinstance(m.get("content"), str) else m for m in messages
            ]
        parameters: dict[str, Any] = {
            "enable_code_interpreter": True,
            "enable_thinking": True,
            "result_format": "message",
            "incremental_output": True,
        }
        path = NATIVE_MULTIMODAL_PATH if multimodal else NATIVE_TEXT_PATH
        headers = {"X-DashScope-SSE": "enable", "X-Accel-Buffering": "no"}
        return post(settings, path, headers, "parameters", input={"messages": messages}, parameters=parameters)


NATIVE = NativeProtocol()
