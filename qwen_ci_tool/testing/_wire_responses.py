"""The Responses API renderer: one :class:`Conversation` as the events of ``/responses``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from ._script import CodeSegment, Conversation, Reasoning
from ._wire import RESPONSES_RATE_LIMIT_MESSAGE, Event, RenderContext, Renderer, Shape, json_text

__all__ = ["ResponsesRenderer"]


class ResponsesRenderer(Renderer):
    """Responses API events in the vendor's framing, the native one: ``id:N`` /
    ``event:<type>`` / ``:HTTP_STATUS/200`` / ``data:{...}`` (no space), the payload's ``type``
    after its other fields; ``response.created`` says ``status: "queued"`` and ``model: ""``.

    Reasoning arrives as ``reasoning_text`` deltas; a code run arrives whole, with its logs, in
    ``response.output_item.done`` (there are no code deltas); the answer as ``output_text`` deltas.
    """

    shape: Shape = "responses"

    def __init__(self, conversation: Conversation, ctx: RenderContext) -> None:
        super().__init__(conversation, ctx)
        self._seq = 0
        self.response_id = self._id("resp", "response")
        self.container_id = self._id("cntr", "container")
        self.final: dict[str, Any] = {}

    def _id(self, prefix: str, key: object) -> str:
        # Identifiers derive from the request id, so a scripted conversation renders identically.
        return f"{prefix}_{uuid.uuid5(uuid.NAMESPACE_URL, f'{self.ctx.request_id}/{key}').hex}"

    def _event(self, kind: str, status: int = 200, **fields: Any) -> bytes:
        data = {**fields, "sequence_number": self._seq, "type": kind}
        self._seq += 1
        head = f"id:{self._seq}\nevent:{kind}\n:HTTP_STATUS/{status}\ndata:"
        return (head + json_text(data) + "\n\n").encode()

    def _response(
        self, status: str, output: list[Any], usage: Any, *, model: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.ctx.created,
            "status": status,
            "model": self.ctx.model if model is None else model,
            "output": output,
            "usage": usage,
            **extra,
        }

    def events(self) -> Iterator[Event]:
        conv = self.conversation
        ev = self._event
        yield ev("response.created", response=self._response("queued", [], None, model="")), False
        yield ev("response.in_progress", response=self._response("in_progress", [], None)), False
        output: list[dict[str, Any]] = []
        input_tokens = conv.input_tokens
        out_tokens = reasoning_tokens = runs = 0
        for k, segment in enumerate(conv.segments):
            oi = len(output)
            if isinstance(segment, CodeSegment):
                runs += 1
                item_id = self._id("ci", k)
                item: dict[str, Any] = {
                    "id": item_id,
                    "type": "code_interpreter_call",
                    "status": "in_progress",
                    "code": "",
                    "outputs": None,
                    "container_id": self.container_id,
                }
                yield ev("response.output_item.added", output_index=oi, item=item), False
                yield ev("response.code_interpreter_call.in_progress", output_index=oi, item_id=item_id), False
                yield ev("response.code_interpreter_call.interpreting", output_index=oi, item_id=item_id), True
                yield ev("response.code_interpreter_call.completed", output_index=oi, item_id=item_id), False
                done: dict[str, Any] = {
                    "id": item_id,
                    "type": "code_interpreter_call",
                    "status": "completed",
                    "code": segment.code,
                    "outputs": [{"type": "logs", "logs": segment.logs}],
                    "container_id": self.container_id,
                }
                output.append(done)
                yield ev("response.output_item.done", output_index=oi, item=done), False
                input_tokens = segment.input_tokens_after
                continue
            for delta in segment.deltas:
                out_tokens += delta.output_tokens
                reasoning_tokens += delta.reasoning_tokens
            texts = [d.text for d in segment.deltas if d.text]
            if not texts:
                continue
            full = "".join(texts)
            if isinstance(segment, Reasoning):
                item_id = self._id("rs", k)
                item = {"id": item_id, "type": "reasoning", "summary": [], "content": [], "status": "in_progress"}
                yield ev("response.output_item.added", output_index=oi, item=item), False
                # One version of the vendor's page shows `reasoning_text` events, another the
                # `reasoning_summary_text` spelling (with `summary_index`); the context picks one.
                summary = self.ctx.reasoning_events == "reasoning_summary_text"
                kind = "response." + self.ctx.reasoning_events
                where: dict[str, Any] = {"summary_index": 0} if summary else {"content_index": 0}
                for text in texts:
                    yield ev(kind + ".delta", item_id=item_id, output_index=oi, **where, delta=text), False
                yield ev(kind + ".done", item_id=item_id, output_index=oi, **where, text=full), False
                parts = [{"type": "summary_text" if summary else "reasoning_text", "text": full}]
                done = {
                    "id": item_id,
                    "type": "reasoning",
                    "summary": parts if summary else [],
                    "content": [] if summary else parts,
                    "status": "completed",
                }
            else:
                item_id = self._id("msg", k)
                item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
                yield ev("response.output_item.added", output_index=oi, item=item), False
                part = {"type": "output_text", "text": "", "annotations": []}
                yield (
                    ev("response.content_part.added", item_id=item_id, output_index=oi, content_index=0, part=part),
                    False,
                )
                for text in texts:
                    yield (
                        ev(
                            "response.output_text.delta",
                            item_id=item_id,
                            output_index=oi,
                            content_index=0,
                            delta=text,
                            logprobs=[],
                        ),
                        False,
                    )
                yield (
                    ev(
                        "response.output_text.done",
                        item_id=item_id,
                        output_index=oi,
                        content_index=0,
                        text=full,
                        logprobs=[],
                    ),
                    False,
                )
                part = {"type": "output_text", "text": full, "annotations": []}
                yield (
                    ev("response.content_part.done", item_id=item_id, output_index=oi, content_index=0, part=part),
                    False,
                )
                status = "completed" if self.ctx.finish_reason == "stop" else "incomplete"
                done = {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": [part]}
            output.append(done)
            yield ev("response.output_item.done", output_index=oi, item=done), False
        usage: dict[str, Any] = {
            "input_tokens": input_tokens,
            "output_tokens": out_tokens,
            "total_tokens": input_tokens + out_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        }
        if runs:
            usage["x_tools"] = {"code_interpreter": {"count": runs}}
        if self.ctx.finish_reason == "stop":
            self.final = self._response("completed", output, usage)
            yield ev("response.completed", response=self.final), False
        else:
            reason = "max_output_tokens" if self.ctx.finish_reason == "length" else self.ctx.finish_reason
            self.final = self._response("incomplete", output, usage, incomplete_details={"reason": reason})
            yield ev("response.incomplete", response=self.final), False

    def final_object(self) -> dict[str, Any]:
        """The whole response, as a non-streaming request receives it."""
        for _ in self.events():
            pass
        return self.final

    def failed_object(self, code: str, message: str) -> dict[str, Any]:
        return self._response("failed", [], None, error={"code": code, "message": message})

    def rate_limit_object(self, message: str = RESPONSES_RATE_LIMIT_MESSAGE) -> dict[str, Any]:
        """The vendor's documented rate limit (its OpenAPI example, sent with HTTP 200): code
        ``server_error``; only ``status: "failed"`` and the message say it is a rate limit."""
        return {
            "created_at": self.ctx.created,
            "error": {"code": "server_error", "message": message},
            "id": self.response_id,
            "model": "",
            "object": "response",
            "output": [],
            "parallel_tool_calls": False,
            "status": "failed",
            "tool_choice": "auto",
            "tools": [],
        }

    def error_events(self, index: int, code: str, message: str, status: int, **_native_only: str) -> list[bytes]:
        self._seq = index
        return [
            self._event("error", status, code=code, message=message, param=None),
            self._event("response.failed", status, response=self.failed_object(code, message)),
        ]

    def rate_limited_events(self, message: str = RESPONSES_RATE_LIMIT_MESSAGE) -> list[bytes]:
        """The rate limit as a stream: a 200 stream whose last event is ``response.failed`` with
        the documented body (the default rate-limit fault sends that body alone, as JSON)."""
        self._seq = 0
        return [
            self._event("response.created", response=self._response("queued", [], None, model="")),
            self._event("response.in_progress", response=self._response("in_progress", [], None)),
            self._event("response.failed", response=self.rate_limit_object(message)),
        ]
