"""How the emulator answers one request: the checks, the faults that replace a reply, and the
200 event stream (paced, cut, struck by a fault). :class:`Replies` is the half of
:class:`~qwen_ci_tool.testing.Emulator` that talks to one connection; the emulator keeps the
state it reads (settings, queued faults and replays, recorded requests).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Final

from ._conversations import split_directive
from ._endpoints import (
    ENDPOINTS,
    LISTED_MODELS,
    MODELS_PATH,
    WORKSPACE_HOST_SUFFIX,
    Endpoint,
    Rejection,
    check_auth,
    check_request,
)
from ._faults import Fault, default_code, default_message
from ._http import Connection, Request
from ._script import Conversation
from ._stream import Shaper, Sink, split_events
from ._throttle import Throttle, WaitHeaders
from ._wire import (
    RESPONSES_RATE_LIMIT_MESSAGE,
    Event,
    NativeRenderer,
    OpenAIRenderer,
    RenderContext,
    Renderer,
    Shape,
    error_body,
    html_error_page,
)
from ._wire_responses import ResponsesRenderer

__all__ = ["JSON_TYPE", "Replies"]

_SSE_TYPE: Final = "text/event-stream;charset=UTF-8"
JSON_TYPE: Final = "application/json;charset=UTF-8"
# Faults answered before the request is even validated: they replace the whole response.
_ANSWERING_FAULTS: Final = frozenset({"status", "content_type", "empty_body"})
_FLOW_FAULTS: Final = frozenset({"drop", "error_event", "stall"})


async def _last_at(events: Iterable[Event], sink: Sink, at: float | None) -> AsyncIterator[Event]:
    """The events; with ``at``, the last one carrying bytes is held back until the loop's clock reads it."""
    held: Event | None = None
    for event in events:
        if at is None or not event[0]:
            yield event
            continue
        if held is not None:
            yield held
        held = event
    if held is not None and at is not None:
        await sink.flush()
        await asyncio.sleep(max(at - asyncio.get_running_loop().time(), 0.0))
        yield held


def _withhold(events: Iterable[Event], last: int) -> Iterator[Event]:
    """Every event but the last ``last`` ones that carry bytes, in order: a byte-less event (a code
    pause) comes where it was, after the event before it; those after the withheld ones go with them."""
    held: deque[Event] = deque()
    carrying = 0  # events held that carry bytes
    for event in events:
        held.append(event)
        carrying += bool(event[0])
        while carrying > last:
            released = held.popleft()
            carrying -= bool(released[0])
            yield released


class Replies:
    """Answers to requests; mixed into :class:`~qwen_ci_tool.testing.Emulator`, which holds the state below."""

    api_key: str | None
    pace: float
    code_pause: float
    block_size: int | None
    call_seconds: float
    unknown_models: frozenset[str]
    refused_pairs: frozenset[tuple[str, str]]
    workspace_host: bool
    throttled: int
    rate_limit_headers: WaitHeaders
    _faults: deque[list[Any]]
    _replays: deque[list[Any]]
    _throttle: Throttle | None

    def _take(self, queue: deque[list[Any]]) -> Any:  # pragma: no cover - the emulator's
        raise NotImplementedError

    def _record(self, request: Request) -> Any:  # pragma: no cover - the emulator's
        raise NotImplementedError

    def _choose(self, question: str, endpoint: Endpoint) -> Conversation:  # pragma: no cover - the emulator's
        raise NotImplementedError

    async def _respond(self, conn: Connection, request: Request) -> bool:
        fresh_id = str(uuid.uuid4())
        endpoint = ENDPOINTS.get(request.path.rstrip("/"))
        workspace = self.workspace_host or request.headers.get("host", "").partition(":")[0].endswith(
            WORKSPACE_HOST_SUFFIX
        )
        if request.path.rstrip("/") == MODELS_PATH and request.method == "GET":
            return await self._list_models(conn, request, fresh_id, workspace) and request.keep_alive
        if endpoint is None:
            paths = ", ".join(sorted(ENDPOINTS))
            message = f"No such endpoint: {request.path}. The emulator serves POST {paths}."
            await self._send_error(conn, "dashscope", 404, "NotFound", message, fresh_id)
            return request.keep_alive
        if request.method != "POST":
            message = f"{request.method} is not allowed here: use POST."
            await self._send_error(
                conn, endpoint.shape, 405, "MethodNotAllowed", message, fresh_id, workspace=workspace
            )
            return request.keep_alive

        body = self._record(request)
        # The throttle is an account's: a request without an accepted key is refused for that (401), not counted.
        if (
            self._throttle is not None
            and check_auth(request.headers, self.api_key, endpoint) is None
            and (wait := self._throttle.admit(time.monotonic())) is not None
        ):
            self.throttled += 1
            code = "Throttling.RateQuota"
            named = self._throttle.refusal_headers(wait, self.rate_limit_headers)
            await self._send_error(conn, endpoint.shape, 429, code, default_message(code, 429), fresh_id, named)
            return request.keep_alive
        fault: Fault | None = self._take(self._faults)
        replay: bytes | None = self._take(self._replays)
        answered = await self._answer_early(conn, endpoint, fault, fresh_id, workspace)
        if answered is not None:
            return answered and request.keep_alive

        checked = check_auth(request.headers, self.api_key, endpoint) or check_request(
            endpoint, request.headers, body, self.unknown_models, self.refused_pairs
        )
        if isinstance(checked, Rejection):
            await self._send_error(
                conn, endpoint.shape, checked.status, checked.code, checked.message, fresh_id, workspace=workspace
            )
            return request.keep_alive

        question, directive = split_directive(checked.question)
        if directive is not None and fault is None:
            try:
                fault = Fault.named(directive)
            except ValueError as exc:
                await self._send_error(
                    conn, endpoint.shape, 400, "InvalidParameter", str(exc), fresh_id, workspace=workspace
                )
                return request.keep_alive
            answered = await self._answer_early(conn, endpoint, fault, fresh_id, workspace)
            if answered is not None:
                return answered and request.keep_alive

        conversation = self._choose(question, endpoint)
        if fault is not None and fault.kind == "huge_line":
            conversation = conversation.with_huge_first_delta(fault.size)
        ctx = RenderContext(
            request_id=conversation.request_id or fresh_id,
            model=checked.model,
            created=conversation.created or int(time.time()),
            chat_id=conversation.chat_id or f"chatcmpl-{uuid.uuid4()}",
            include_usage=checked.include_usage,
            finish_reason=fault.reason if fault is not None and fault.kind == "finish_reason" else "stop",
            reasoning_events=(
                "reasoning_summary_text"
                if fault is not None and fault.kind == "reasoning_summary"
                else "reasoning_text"
            ),
        )
        renderer = self._renderer(endpoint, conversation, ctx)
        # The documented Responses rate limit is a JSON body with HTTP 200, streaming or not.
        whole_rate_limit = fault is not None and fault.kind == "rate_limit_200" and not fault.streamed
        if isinstance(renderer, ResponsesRenderer) and (not checked.stream or whole_rate_limit):
            return await self._respond_whole(conn, renderer, fault) and request.keep_alive

        events = self._events(renderer, fault, replay)
        return await self._stream(conn, renderer, events, fault, ctx.request_id) and request.keep_alive

    async def _list_models(self, conn: Connection, request: Request, request_id: str, workspace: bool) -> bool:
        """``GET /compatible-mode/v1/models``: the key is checked; faults that answer apply."""
        self._record(request)
        endpoint = ENDPOINTS["/compatible-mode/v1/chat/completions"]
        fault: Fault | None = self._take(self._faults)
        answered = await self._answer_early(conn, endpoint, fault, request_id, workspace)
        if answered is not None:
            return answered
        if rejected := check_auth(request.headers, self.api_key, endpoint):
            await self._send_error(
                conn, "openai", rejected.status, rejected.code, rejected.message, request_id, workspace=workspace
            )
            return True
        listed = [m for m in LISTED_MODELS if m not in self.unknown_models]
        data = [{"id": m, "object": "model", "created": 1761899651, "owned_by": "system"} for m in listed]
        payload = json.dumps({"object": "list", "data": data}, separators=(",", ":")).encode()
        await conn.send_full(200, [("content-type", JSON_TYPE), ("x-request-id", request_id)], payload)
        return True

    @staticmethod
    def _events(renderer: Renderer, fault: Fault | None, replay: bytes | None) -> Iterable[Event]:
        """The events of a 200 stream: a rate limit, a replay, or the rendered conversation."""
        if fault is not None and fault.kind == "rate_limit_200":
            if isinstance(renderer, ResponsesRenderer):
                return [(d, False) for d in renderer.rate_limited_events(fault.message or RESPONSES_RATE_LIMIT_MESSAGE)]
            code = "Throttling.RateQuota"
            message = fault.message or default_message(code, 429)
            return [(d, False) for d in renderer.error_events(0, code, message, 429)]
        if replay is not None:
            return split_events(replay)
        return renderer.events()

    @staticmethod
    def _renderer(endpoint: Endpoint, conversation: Conversation, ctx: RenderContext) -> Renderer:
        if endpoint.name == "chat":
            return OpenAIRenderer(conversation, ctx)
        if endpoint.name == "responses":
            return ResponsesRenderer(conversation, ctx)
        return NativeRenderer(conversation, ctx, multimodal=endpoint.name == "multimodal")

    async def _answer_early(
        self, conn: Connection, endpoint: Endpoint, fault: Fault | None, request_id: str, workspace: bool = False
    ) -> bool | None:
        """Apply a fault that replaces the whole response; ``None`` when there is none to apply."""
        if fault is None:
            return None
        if fault.kind == "stall" and fault.after_events is None:
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind not in _ANSWERING_FAULTS:
            return None
        rid = fault.request_id or request_id
        if fault.kind == "content_type":
            assert isinstance(fault.body, bytes)
            await conn.send_full(200, [("content-type", fault.media_type), ("x-request-id", rid)], fault.body)
        elif fault.kind == "empty_body":
            await conn.start_chunked(200, [("content-type", _SSE_TYPE), ("x-request-id", rid)])
            await conn.end_chunked()
        else:
            code = fault.code or default_code(fault.status_code)
            message = fault.message or default_message(code, fault.status_code)
            extra = [("retry-after", fault.retry_after)] if fault.retry_after is not None else []
            if fault.body == "json":
                await self._send_error(
                    conn, endpoint.shape, fault.status_code, code, message, rid, extra, workspace=workspace
                )
            else:
                if fault.body == "html":
                    headers, payload = [("content-type", "text/html")], html_error_page(fault.status_code)
                elif fault.body == "empty":
                    headers, payload = [], b""
                else:
                    assert isinstance(fault.body, bytes)
                    headers, payload = [("content-type", "text/plain;charset=UTF-8")], fault.body
                await conn.send_full(fault.status_code, [*headers, ("x-request-id", rid), *extra], payload)
        return True

    @staticmethod
    async def _send_error(
        conn: Connection,
        shape: Shape,
        status: int,
        code: str,
        message: str,
        request_id: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        workspace: bool = False,
    ) -> None:
        headers = [("content-type", JSON_TYPE), ("x-request-id", request_id), *(extra or [])]
        await conn.send_full(status, headers, error_body(shape, code, message, request_id, workspace=workspace))

    async def _respond_whole(self, conn: Connection, renderer: ResponsesRenderer, fault: Fault | None) -> bool:
        """A non-streaming Responses request: the whole response object as JSON."""
        if fault is not None and fault.kind == "rate_limit_200":
            obj = renderer.rate_limit_object(fault.message or RESPONSES_RATE_LIMIT_MESSAGE)
        else:
            obj = renderer.final_object()
        payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        await conn.send_full(200, [("content-type", JSON_TYPE), ("x-request-id", renderer.ctx.request_id)], payload)
        return True

    # -- streaming -------------------------------------------------------------------------------

    async def _stream(
        self,
        conn: Connection,
        renderer: Renderer,
        events: Iterable[Event],
        fault: Fault | None,
        request_id: str,
    ) -> bool:
        """Write a 200 event stream, applying ``fault``; False when the connection must close."""
        pieces = fault is not None and fault.kind == "pieces"
        sink = Sink(
            conn,
            sizes=fault.sizes if fault is not None and pieces else (),
            interval=fault.interval if fault is not None and pieces else 0.0,
            block=self.block_size,
        )
        shaper = Shaper(fault, renderer.shape)
        pace, code_pause = self.pace, self.code_pause
        if self.block_size:
            events = list(events)  # render everything before the first byte
            pace = code_pause = 0.0
        strike_at = fault.after_events if fault is not None and fault.kind in _FLOW_FAULTS else None
        truncate = fault is not None and fault.kind == "truncate"
        if truncate:
            assert fault is not None
            events = _withhold(events, fault.withhold)

        ends_at = asyncio.get_running_loop().time() + self.call_seconds
        await conn.start_chunked(
            200, [("content-type", _SSE_TYPE), ("x-request-id", request_id), ("cache-control", "no-cache")]
        )
        sent = 0
        async for data, pause in _last_at(events, sink, ends_at if self.call_seconds > 0 else None):
            if data:
                if strike_at is not None and sent == strike_at:
                    assert fault is not None
                    strike_at = None
                    if not await self._strike(conn, sink, shaper, renderer, fault, sent):
                        return False
                await sink.send(shaper.shape_event(data, sent))
                sent += 1
                if pace:
                    await asyncio.sleep(pace)
                elif sent % 64 == 0:
                    await asyncio.sleep(0)  # let other connections' streams progress
            if pause and code_pause:
                await sink.flush()
                await asyncio.sleep(code_pause)
        if strike_at is not None:
            assert fault is not None
            if not await self._strike(conn, sink, shaper, renderer, fault, sent):
                return False
        await sink.flush()
        await conn.end_chunked()
        # A truncated stream ends cleanly (as a proxy or the service closing the response would),
        # without its last events; the connection is not reused after it.
        return not truncate

    @staticmethod
    async def _strike(
        conn: Connection, sink: Sink, shaper: Shaper, renderer: Renderer, fault: Fault, sent: int
    ) -> bool:
        """Apply a drop, error event or stall after ``sent`` events; False if the stream ended."""
        await sink.flush()
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            return True
        if fault.kind == "error_event":
            code = fault.code or default_code(fault.status_code)
            message = fault.message or default_message(code, fault.status_code)
            for data in renderer.error_events(
                sent, code, message, fault.status_code, spelling=fault.spelling, status_line=fault.status_line
            ):
                await sink.send(data)  # an error_event fault is the request's one fault: no other rewrite applies
            await sink.flush()
            await conn.end_chunked()
            return False
        # drop: what was sent stays sent; the stream just stops, without its terminating chunk.
        conn.writer.close()
        return False
