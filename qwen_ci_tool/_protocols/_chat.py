"""OpenAI-compatible Chat Completions: reasoning and answer, but never the code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._constants import CHAT_COMPLETIONS_PATH
from .._types import AnswerDelta, DecodedEvent, ReasoningDelta, UsageUpdated
from ._base import DecoderBase, RequestSpec, WireFailure, post, text_of, usage_of

if TYPE_CHECKING:
    from .._settings import Settings
    from .._types import SSEEvent


class ChatDecoder(DecoderBase):
    __slots__ = ()

    def decode(self, sse: SSEEvent) -> list[DecodedEvent]:
        if sse.status is not None and (failure := self._status_failure(sse)) is not None:
            raise failure
        obj = self._object(sse.data)
        if obj is None:
            return []
        if "error" in obj or sse.event == "error" or sse.status is not None:
            raise WireFailure(sse.status, obj)  # the engine reads no in-band status as 400
        events: list[DecodedEvent] = []
        if not self._started:
            events.append(self._start(obj.get("request_id") or self._header_rid or obj.get("id"), "openai"))
        choices = obj.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if reasoning and type(reasoning) is str:
                events.append(ReasoningDelta(reasoning))
            text = text_of(delta.get("content"))
            if text:
                events.append(AnswerDelta(text))
            reason = choice.get("finish_reason")
            if reason and type(reason) is str:
                self.finish_reason = reason
        usage = obj.get("usage")
        if usage:
            events.append(UsageUpdated(usage_of(usage, chat=True)))
        return events


class ChatCompletionsProtocol:
    name = "openai"
    returns_code, returns_output = False, False
    ends_at_eof = False
    decoder = ChatDecoder

    def build_request(self, settings: Settings, messages: list[dict[str, Any]]) -> RequestSpec:
        return post(
            settings,
            CHAT_COMPLETIONS_PATH,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            enable_code_interpreter=True,
            enable_thinking=True,
        )


CHAT_COMPLETIONS = ChatCompletionsProtocol()
