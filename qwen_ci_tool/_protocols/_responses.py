"""The Responses API: the only protocol that returns what the code printed.

Events are ``data:`` lines whose JSON carries a ``type``. The code of a run arrives whole in
``response.output_item.done`` (DashScope sends no code deltas; OpenAI-style
``response.code_interpreter_call_code.delta`` events are accepted too, should they appear).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._types import AnswerDelta, CodeRunUpdated, DecodedEvent, ReasoningDelta, UsageUpdated
from ._base import DecoderBase, RequestSpec, WireFailure, post, text_of, usage_of

if TYPE_CHECKING:
    from .._settings import Settings
    from .._types import SSEEvent

#: How ``incomplete_details.reason`` maps to the finish reasons of the other protocols.
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _logs(item: dict[str, Any]) -> str:
    """What a finished run printed: its ``logs`` outputs joined ('' when it printed nothing)."""
    outputs = item.get("outputs")
    if not isinstance(outputs, list):
        return ""
    return "".join(text_of(o.get("logs")) for o in outputs if isinstance(o, dict) and o.get("type") == "logs")


class ResponsesDecoder(DecoderBase):
    __slots__ = ("_codes", "_runs")

    def __init__(self, model: str, header_request_id: str | None) -> None:
        super().__init__(model, header_request_id)
        self._runs: dict[str, int] = {}
        self._codes: dict[int, str] = {}

    def decode(self, sse: SSEEvent) -> list[DecodedEvent]:
        if sse.status is not None and (failure := self._status_failure(sse)) is not None:
            raise failure
        obj = self._object(sse.data)
        if obj is None:
            return []
        kind = obj.get("type") or sse.event
        if sse.status is not None or kind == "response.failed" or kind == "error":
            # An in-band status (``:HTTP_STATUS/<n>``, ``status:``) says failure whatever the event is named.
            raise self._failure(obj, sse.status)
        events: list[DecodedEvent] = []
        if not self._started:
            response = obj.get("response") or {}
            events.append(self._start(self._header_rid or obj.get("request_id") or response.get("id"), "responses"))
        if kind == "response.reasoning_text.delta" or kind == "response.reasoning_summary_text.delta":
            delta = obj.get("delta")
            if delta and type(delta) is str:
                events.append(ReasoningDelta(delta))
        elif kind == "response.output_text.delta":
            delta = obj.get("delta")
            if delta and type(delta) is str:
                events.append(AnswerDelta(delta))
        elif kind == "response.output_item.added" or kind == "response.output_item.done":
            item = obj.get("item") or {}
            if item.get("type") == "code_interpreter_call":
                self._code_item(item, events, done=kind.endswith("done"))
        elif kind == "response.code_interpreter_call_code.delta":
            index = self._index(obj.get("item_id"))
            code = self._codes.get(index, "") + text_of(obj.get("delta"))
            self._codes[index] = code
            events.append(CodeRunUpdated(index, code))
        elif kind == "response.completed" or kind == "response.incomplete":
            response = obj.get("response") or {}
            if isinstance(response.get("usage"), dict):
                events.append(UsageUpdated(usage_of(response["usage"], "x_tools")))
            if kind == "response.completed":
                self.finish_reason = "stop"
            else:
                reason = text_of((response.get("incomplete_details") or {}).get("reason")) or "incomplete"
                self.finish_reason = _INCOMPLETE_REASONS.get(reason, reason)
            self.done = True
        elif obj.get("status") == "failed":  # a failed response under another name (no in-band status: see above)
            raise self._failure({"response": obj}, None)
        return events

    def _index(self, item_id: Any) -> int:
        key = str(item_id)
        index = self._runs.get(key)
        if index is None:
            index = self._runs[key] = len(self._runs)
        return index

    def _code_item(self, item: dict[str, Any], events: list[DecodedEvent], *, done: bool) -> None:
        key = str(item.get("id"))
        new = key not in self._runs
        index = self._index(key)
        code = text_of(item.get("code")) or self._codes.get(index, "")
        self._codes[index] = code
        output = _logs(item) if done else None
        container = item.get("container_id")
        events.append(
            CodeRunUpdated(index, code, output, container if isinstance(container, str) else None, is_new=new)
        )

    def _failure(self, obj: dict[str, Any], status: int | None) -> WireFailure:
        return WireFailure(status, obj, failed_response=True)


class ResponsesProtocol:
    name = "responses"
    returns_code, returns_output = True, True
    ends_at_eof = False
    decoder = ResponsesDecoder

    def build_request(self, settings: Settings, messages: list[dict[str, Any]]) -> RequestSpec:
        tools = [{"type": "code_interpreter"}]
        return post(settings, settings.responses_path, input=messages, tools=tools, stream=True, enable_thinking=True)


RESPONSES = ResponsesProtocol()
