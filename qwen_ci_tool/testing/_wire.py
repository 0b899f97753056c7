"""Per-protocol renderers: one :class:`Conversation` becomes the SSE events of one endpoint
(native and OpenAI-compatible here; the Responses API in ``_wire_responses.py``).

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
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Literal

from ._script import Answer, CodeSegment, Conversation

__all__ = [
    "Event",
    "HELP_LINK",
    "NativeRenderer",
    "OpenAIRenderer",
    "RESPONSES_RATE_LIMIT_MESSAGE",
    "RenderContext",
    "Renderer",
    "Shape",
    "error_body",
    "html_error_page",
    "json_text",
]

Event = tuple[bytes, bool]
Shape = Literal["dashscope", "openai", "responses"]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_text(value: Any) -> str:
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
    return json_text(body).encode()


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
    ) -> list[bytes]:
        """The events reporting an error after ``index`` events were sent: here the native protocol's
        error frame (*spelling* and *status_line* shape it); the other renderers override this."""
        lines = [f"id:{index + 1}", spelling]
        if status_line in ("comment", "both"):
            lines.append(f":HTTP_STATUS/{status}")
        if status_line in ("field", "both"):
            lines.append(f"status:{status}")
        data = {"code": code, "message": message, "request_id": self.ctx.request_id}
        lines.append("data:" + json_text(data))
        return [("\n".join(lines) + "\n\n").encode()]


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
            return '[{"text":' + json_text(text) + "}]" if text else "[]"
        return json_text(text)

    def events(self) -> Iterator[Event]:
        conv = self.conversation
        request_id = json_text(self.ctx.request_id)
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
                    entry = _NATIVE_TOOL % json_text(segment.code[:shown])
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
                    yield frame(empty, json_text(delta.text), "null"), False
        if held is not None:
            # The stop frame takes the held frame's place (and id) with its text.
            yield frame(self._content(held[1]), None, self.ctx.finish_reason), False
            return
        n += 1
        yield frame(empty, '""', self.ctx.finish_reason), False


class OpenAIRenderer(Renderer):
    """Chat Completions chunks: ``data: {...}``, a usage chunk when asked, then ``data: [DONE]``.

    The key orders copy the seed: the service orders the first, second and last chunks' keys
    differently from the rest.
    """

    shape: Shape = "openai"

    def events(self) -> Iterator[Event]:
        ctx = self.ctx
        conv = self.conversation
        model, chat_id = json_text(ctx.model), json_text(ctx.chat_id)

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
                text = json_text(delta.text)
                fields = (text, "null") if isinstance(segment, Answer) else ("null", text)
                yield chunk((_CHAT_FIRST if first else _CHAT_DELTA) % fields), False
                first = False
        yield chunk(_CHAT_LAST % json_text(ctx.finish_reason)), False
        if ctx.include_usage:
            usage = _CHAT_USAGE % (input_tokens, output, input_tokens + output, reasoning)
            yield chunk("", usage), False
        yield b"data: [DONE]\n\n", False

    def error_events(self, index: int, code: str, message: str, status: int, **_native_only: str) -> list[bytes]:
        # As captured: the error object, then the chunk id (no request id of its own).
        data = {"error": _openai_error(code, message), "id": self.ctx.chat_id}
        return [b"data: " + json_text(data).encode() + b"\n\n"]
