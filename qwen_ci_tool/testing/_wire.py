"""Per-protocol renderers: one :class:`Conversation` becomes the SSE events of one endpoint.

Each renderer yields ``(event_bytes, pause_after)`` pairs lazily, so a 100k-event benchmark stream
costs memory for one event at a time. ``pause_after`` marks the moment the real service goes quiet
while the sandbox runs; an empty ``event_bytes`` is a pure pause (the OpenAI-compatible protocol
sends nothing for a code run).

Frames are assembled from pre-encoded pieces rather than ``json.dumps`` of a whole dict: the
native protocol repeats the cumulative ``tool_info`` in every frame, and re-encoding finished code
runs per frame would make long streams quadratic.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Literal

from ._script import Answer, CodeSegment, Conversation, Reasoning

__all__ = [
    "Event",
    "HELP_LINK",
    "NativeRenderer",
    "OpenAIRenderer",
    "RESPONSES_RATE_LIMIT_MESSAGE",
    "RenderContext",
    "Renderer",
    "ResponsesRenderer",
    "Shape",
    "error_body",
    "html_error_page",
]

Event = tuple[bytes, bool]
Shape = Literal["dashscope", "openai", "responses"]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _j(value: Any) -> str:
    return _encode(value)


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Per-request facts the renderers need besides the conversation."""

    request_id: str
    model: str
    created: int
    chat_id: str
    include_usage: bool = True
    finish_reason: str = "stop"
    #: How the Responses API names its reasoning events: "reasoning_text" or "reasoning_summary_text".
    reasoning_events: str = "reasoning_text"


# --- error bodies ------------------------------------------------------------------------------

# The OpenAI-compatible endpoint reports DashScope codes in OpenAI's vocabulary; the others (as
# captured: Model.AccessDenied, the token plan's Throttling.AllocationQuota) as type and code both.
_OPENAI_ERRORS: Final[dict[str, tuple[str, str]]] = {
    "InvalidApiKey": ("invalid_request_error", "invalid_api_key"),
    "InvalidParameter": ("invalid_request_error", "invalid_parameter_error"),
    "Model.NotExist": ("invalid_request_error", "model_not_found"),
    "Throttling": ("limit_requests", "limit_requests"),
    "Throttling.RateQuota": ("limit_requests", "limit_requests"),
    "InternalError": ("internal_error", "internal_error"),
    "DataInspectionFailed": ("data_inspection_failed", "data_inspection_failed"),
}


#: The compatible-mode endpoints end their error messages with a link to the vendor's error codes.
HELP_LINK: Final = "For details, see: https://help.aliyun.com/zh/model-studio/error-code"

#: The vendor's documented Responses rate-limit message (sent as HTTP 200, ``status: "failed"``).
RESPONSES_RATE_LIMIT_MESSAGE: Final = "Operation model request rate limit exceeded, please try again later."


def _openai_error(code: str, message: str, *, workspace_id: str | None = None) -> dict[str, Any]:
    """The ``error`` object of the compatible-mode endpoints. A workspace host
    (``*.maas.aliyuncs.com``) puts the request id inside it and sends no ``param``."""
    kind, openai_code = _OPENAI_ERRORS.get(code, (code, code))
    text = message if HELP_LINK in message else f"{message} {HELP_LINK}"
    if workspace_id is not None:
        return {"message": text, "type": kind, "code": openai_code, "id": workspace_id}
    return {"message": text, "type": kind, "param": None, "code": openai_code}


def error_body(shape: Shape, code: str, message: str, request_id: str, *, workspace: bool = False) -> bytes:
    """The JSON error body each endpoint family sends with a non-2xx status (``workspace``: as a
    workspace host sends it)."""
    if shape == "openai":
        body: dict[str, Any]
        if workspace:
            body = {"error": _openai_error(code, message, workspace_id=request_id)}
        else:
            body = {"error": _openai_error(code, message), "request_id": request_id}
    elif shape == "responses":
        body = {"request_id": request_id, "code": code, "message": message}
    else:
        body = {"code": code, "message": message, "request_id": request_id}
    return _j(body).encode()


def html_error_page(status: int) -> bytes:
    """What a gateway in front of the service sends instead of JSON."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


# --- renderers ---------------------------------------------------------------------------------


class Renderer:
    """Base: ``events()`` for the happy path, ``error_events()`` for an error inside the stream."""

    shape: Shape = "dashscope"

    def __init__(self, conversation: Conversation, ctx: RenderContext) -> None:
        self.conversation = conversation
        self.ctx = ctx

    def events(self) -> Iterator[Event]:  # pragma: no cover - abstract
        raise NotImplementedError

    def error_events(
        self,
        index: int,
        code: str,
        message: str,
        status: int,
        *,
        spelling: str = "event:error",
        status_line: str = "comment",
    ) -> list[bytes]:  # pragma: no cover - abstract
        """The events reporting an error after ``index`` events were sent."""
        raise NotImplementedError


# Wire templates, written out literally: key order is part of byte-exactness.
_NATIVE_FRAME = (
    'id:%d\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"choices":[{"message":{"content":%s,'
    '"reasoning_content":%s,"role":"assistant"},"finish_reason":"%s"}]%s},"usage":%s,"request_id":%s}\n\n'
)
_NATIVE_USAGE = (
    '{"total_tokens":%d,"output_tokens":%d,"input_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d}%s}'
)
_NATIVE_PLUGINS = ',"plugins":{"code_interpreter":{"count":%d}}'
# The multimodal path, as a live capture (qwen3.6-plus) shows it: answer frames without
# reasoning_content, and usage with text/image token details and an empty prompt_tokens_details.
_MM_ANSWER_FRAME = (
    'id:%d\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"choices":[{"message":{"content":%s,'
    '"role":"assistant"},"finish_reason":"%s"}]%s},"usage":%s,"request_id":%s}\n\n'
)
_MM_USAGE = (
    '{"input_tokens_details":{"image_tokens":0,"text_tokens":%d},"output_tokens":%d,"input_tokens":%d,'
    '"output_tokens_details":{"reasoning_tokens":%d,"text_tokens":%d},"prompt_tokens_details":{},'
    '"total_tokens":%d%s}'
)
_NATIVE_TOOL = '{"code_interpreter":{"code":%s},"type":"code_interpreter"}'

_CHAT_CHUNK = (
    'data: {"choices":[%s],"object":"chat.completion.chunk","usage":%s,"created":%d,'
    '"system_fingerprint":null,"model":%s,"id":%s}\n\n'
)
_CHAT_ROLE = (
    '{"delta":{"content":null,"role":"assistant","reasoning_content":""},'
    '"index":0,"logprobs":null,"finish_reason":null}'
)
_CHAT_FIRST = '{"finish_reason":null,"logprobs":null,"delta":{"content":%s,"reasoning_content":%s},"index":0}'
_CHAT_DELTA = '{"delta":{"content":%s,"reasoning_content":%s},"finish_reason":null,"index":0,"logprobs":null}'
_CHAT_LAST = '{"finish_reason":%s,"delta":{"content":"","reasoning_content":null},"index":0,"logprobs":null}'
_CHAT_USAGE = (
    '{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"completion_tokens_details":{"reasoning_tokens":%d}}'
)


class NativeRenderer(Renderer):
    """DashScope native frames: ``id:N`` / ``event:result`` / ``:HTTP_STATUS/200`` / ``data:{...}``.

    ``multimodal`` gives the multimodal-generation path's shape, as a live capture shows it:
    list-of-parts ``content`` (``[]`` while thinking), answer frames without ``reasoning_content``,
    the last answer text carried by the ``stop`` frame itself, and usage with
    ``output_tokens_details.text_tokens``, image token counts and an empty ``prompt_tokens_details``.
    """

    shape: Shape = "dashscope"

    def __init__(self, conversation: Conversation, ctx: RenderContext, *, multimodal: bool = False) -> None:
        super().__init__(conversation, ctx)
        self.multimodal = multimodal

    def _content(self, text: str) -> str:
        if self.multimodal:
            return '[{"text":' + _j(text) + "}]" if text else "[]"
        return _j(text)

    def events(self) -> Iterator[Event]:
        conv = self.conversation
        request_id = _j(self.ctx.request_id)
        empty = self._content("")
        input_tokens = conv.input_tokens
        output = reasoning = count = 0
        finished_runs = ""  # encoded tool_info entries of finished runs, each followed by ","
        tools = ""  # ',"tool_info":[...]' once the first run appears
        n = 0

        multimodal = self.multimodal
        held: tuple[bytes, str] | None = None  # multimodal: the last answer frame, and its text

        def frame(content: str, reasoning_text: str | None, finish: str) -> bytes:
            plugins = _NATIVE_PLUGINS % count if count else ""
            if multimodal:
                text_tokens = output - reasoning
                usage = _MM_USAGE % (
                    input_tokens,
                    output,
                    input_tokens,
                    reasoning,
                    text_tokens,
                    input_tokens + output,
                    plugins,
                )
            else:
                usage = _NATIVE_USAGE % (input_tokens + output, output, input_tokens, reasoning, plugins)
            if reasoning_text is None:  # a multimodal answer frame
                return (_MM_ANSWER_FRAME % (n, content, finish, tools, usage, request_id)).encode()
            return (_NATIVE_FRAME % (n, content, reasoning_text, finish, tools, usage, request_id)).encode()

        for segment in conv.segments:
            if held is not None and not isinstance(segment, Answer):
                yield held[0], False
                held = None
            if isinstance(segment, CodeSegment):
                count += 1
                entry = ""
                for shown in segment.growth:
                    n += 1
                    entry = _NATIVE_TOOL % _j(segment.code[:shown])
                    tools = ',"tool_info":[' + finished_runs + entry + "]"
                    yield frame(empty, '""', "null"), True
                finished_runs += entry + ","
                input_tokens = segment.input_tokens_after
                continue
            is_answer = isinstance(segment, Answer)
            for delta in segment.deltas:
                n += 1
                output += delta.output_tokens
                reasoning += delta.reasoning_tokens
                if is_answer and multimodal:
                    # Held back one frame: the last answer text rides on the stop frame.
                    if held is not None:
                        yield held[0], False
                    held = frame(self._content(delta.text), None, "null"), delta.text
                elif is_answer:
                    yield frame(self._content(delta.text), '""', "null"), False
                else:
                    yield frame(empty, _j(delta.text), "null"), False
        if held is not None:
            # The stop frame takes the held frame's place (and id) with its text.
            yield frame(self._content(held[1]), None, self.ctx.finish_reason), False
            return
        n += 1
        yield frame(empty, '""', self.ctx.finish_reason), False

    def error_events(
        self,
        index: int,
        code: str,
        message: str,
        status: int,
        *,
        spelling: str = "event:error",
        status_line: str = "comment",
    ) -> list[bytes]:
        lines = [f"id:{index + 1}", spelling]
        if status_line in ("comment", "both"):
            lines.append(f":HTTP_STATUS/{status}")
        if status_line in ("field", "both"):
            lines.append(f"status:{status}")
        data = {"code": code, "message": message, "request_id": self.ctx.request_id}
        lines.append("data:" + _j(data))
        return [("\n".join(lines) + "\n\n").encode()]


class OpenAIRenderer(Renderer):
    """Chat Completions chunks: ``data: {...}``, a usage chunk when asked, then ``data: [DONE]``.

    The key orders copy the seed: the service orders the first, second and last chunks' keys
    differently from the rest.
    """

    shape: Shape = "openai"

    def events(self) -> Iterator[Event]:
        ctx = self.ctx
        conv = self.conversation
        model, chat_id = _j(ctx.model), _j(ctx.chat_id)

        def chunk(choice: str, usage: str = "null") -> bytes:
            return (_CHAT_CHUNK % (choice, usage, ctx.created, model, chat_id)).encode()

        yield chunk(_CHAT_ROLE), False
        first = True
        input_tokens = conv.input_tokens
        output = reasoning = 0
        for segment in conv.segments:
            if isinstance(segment, CodeSegment):
                input_tokens = segment.input_tokens_after
                yield b"", True  # this protocol stays silent while the sandbox runs
                continue
            for delta in segment.deltas:
                output += delta.output_tokens
                reasoning += delta.reasoning_tokens
                if not delta.text:
                    continue
                text = _j(delta.text)
                fields = (text, "null") if isinstance(segment, Answer) else ("null", text)
                yield chunk((_CHAT_FIRST if first else _CHAT_DELTA) % fields), False
                first = False
        yield chunk(_CHAT_LAST % _j(ctx.finish_reason)), False
        if ctx.include_usage:
            usage = _CHAT_USAGE % (input_tokens, output, input_tokens + output, reasoning)
            yield chunk("", usage), False
        yield b"data: [DONE]\n\n", False

    def error_events(
        self,
        index: int,
        code: str,
        message: str,
        status: int,
        *,
        spelling: str = "event:error",
        status_line: str = "comment",
    ) -> list[bytes]:
        # As captured: the error object, then the chunk id (no request id of its own).
        data = {"error": _openai_error(code, message), "id": self.ctx.chat_id}
        return [b"data: " + _j(data).encode() + b"\n\n"]


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
        return (head + _j(data) + "\n\n").encode()

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

    def error_events(
        self,
        index: int,
        code: str,
        message: str,
        status: int,
        *,
        spelling: str = "event:error",
        status_line: str = "comment",
    ) -> list[bytes]:
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
