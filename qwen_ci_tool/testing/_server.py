"""The emulator: a real local HTTP server speaking DashScope's endpoints, on the standard library.

It runs its own asyncio loop in a daemon thread, so synchronous tests, async tests, the demo and
benchmarks all use it the same way. Each request consumes at most one queued fault and one queued
replay; otherwise the reply is the scripted conversation for the question (or an honest generic
one), rendered for the endpoint that was called.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from ._conversations import generic_conversation, scripted_conversation, split_directive
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
from ._http import BadRequest, Connection, Request
from ._script import Conversation
from ._stream import Shaper, Sink, split_events
from ._throttle import Throttle
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

__all__ = ["Emulator", "RecordedRequest"]

_log = logging.getLogger(__name__)

_SSE_TYPE: Final = "text/event-stream;charset=UTF-8"
_JSON_TYPE: Final = "application/json;charset=UTF-8"
# Faults answered before the request is even validated: they replace the whole response.
_ANSWERING_FAULTS: Final = frozenset({"status", "content_type", "empty_body"})
_FLOW_FAULTS: Final = frozenset({"drop", "error_event", "stall"})
_START_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes = field(default=b"", repr=False)


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
    """Every event but the last ``last`` ones that carry bytes."""
    held: deque[Event] = deque()
    for event in events:
        if not event[0]:
            if not held:
                yield event
            continue
        held.append(event)
        if len(held) > last:
            yield held.popleft()


class Emulator:
    """A local stand-in for DashScope's code-interpreter endpoints.

    ``api_key=None`` accepts any non-empty bearer key. ``pace`` is the pause between events,
    ``code_pause`` the silence after an event that adds or grows a code run (the sandbox
    "running"); ``block_size`` renders the whole stream first and writes it in blocks of that many
    bytes (for benchmarks; pace and code pauses are then skipped). ``conversation`` forces one
    conversation for every request; ``unknown_models`` answer 404 ``Model.NotExist``.
    ``refused_pairs`` are ``(model, protocol)`` pairs (protocol ``dashscope``, ``openai`` or
    ``responses``) the emulated service refuses with 400 ``InvalidParameter``, as the real one may
    refuse a model over a protocol it does not serve the interpreter on. ``workspace_host``
    answers as a workspace host (``*.maas.aliyuncs.com``) does: compatible-mode error bodies
    carry the request id inside ``error.id``; requests whose ``Host`` is such a host get that
    shape too. ``rate_limit`` (requests per second, off by default) answers requests above it 429
    ``Throttling.RateQuota`` with a ``Retry-After`` in seconds (fractional), allowing up to
    ``rate_burst`` back to back; ``throttled`` counts them. The default burst of 1 is a quota of
    evenly spaced starts: a request sooner than ``1 / rate_limit`` after the last one admitted is
    refused, with the rest of that interval as its ``Retry-After``; ``rate_burst=rate_limit`` allows
    a second's worth at once. ``call_seconds`` makes every streamed reply last that long: all but its
    last event are sent at once, the last when that many seconds have passed since the request
    (as a real call's result comes after the sandbox ran); block mode included.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        pace: float = 0.0,
        code_pause: float = 0.0,
        block_size: int | None = None,
        *,
        conversation: Conversation | None = None,
        unknown_models: Collection[str] = ("no-such-model",),
        refused_pairs: Collection[tuple[str, str]] = (),
        workspace_host: bool = False,
        rate_limit: float | None = None,
        rate_burst: float = 1.0,
        call_seconds: float = 0.0,
    ) -> None:
        if block_size is not None and block_size < 1:
            raise ValueError("block_size must be positive")
        self.host = host
        self.api_key = api_key
        self.pace = pace
        self.code_pause = code_pause
        self.block_size = block_size
        self.call_seconds = call_seconds
        self.unknown_models = frozenset(unknown_models)
        self.refused_pairs = frozenset(refused_pairs)
        self.workspace_host = workspace_host
        self._requested_port = port
        self._port: int | None = None
        self._conversation = conversation
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._faults: deque[list[Any]] = deque()  # [fault, remaining]
        self._replays: deque[list[Any]] = deque()  # [bytes, remaining]
        self._requests: list[RecordedRequest] = []
        self._active = 0
        self._throttle = Throttle(rate_limit, rate_burst) if rate_limit is not None else None
        #: Requests answered 429 by ``rate_limit``.
        self.throttled = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self._main(ready.set))
            except BaseException as exc:  # reported to start(), which re-raises it
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="qwen-ci-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError("the emulator did not start in time")
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection, end every stall, and stop the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(stopping.set)
        thread.join(_START_TIMEOUT)
        self._thread = None

    @classmethod
    def serve_forever(
        cls,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        ready: Callable[[str], None] | None = None,
        **options: Any,
    ) -> None:
        """Serve in the calling thread until Ctrl-C, then return (``qwen-ci emulator``).

        Prints nothing; ``ready`` receives the base URL once the port is bound.
        """
        emulator = cls(host=host, port=port, **options)

        def on_ready() -> None:
            if ready is not None:
                ready(emulator.base_url)

        # Ctrl-C is the way a person stops it; connections are closed on the way out.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(emulator._main(on_ready))

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Emulator:
        # Starting only binds a socket in another thread: quick enough to do inline.
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- public state ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running: use `with Emulator() as emu:` or start()")
        return self._port

    @property
    def base_url(self) -> str:
        """The service root, e.g. ``http://127.0.0.1:51234``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def active_connections(self) -> int:
        """Connections currently open (for leak tests)."""
        return self._active

    def wait_for_connections(self, count: int = 0, timeout: float = 5.0) -> bool:
        """Block until exactly ``count`` connections are open; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._active == count, timeout)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests have arrived; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._requests) >= count, timeout)

    def add_fault(self, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests (after any queued before it)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append([fault, times])

    def replay(self, source: bytes | str | os.PathLike[str], times: int = 1) -> None:
        """Answer the next ``times`` requests with these bytes (or this file's), verbatim, as a 200
        ``text/event-stream`` body."""
        if times < 1:
            raise ValueError("times must be >= 1")
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        with self._lock:
            self._replays.append([data, times])

    def set_conversation(self, conversation: Conversation | None) -> None:
        """Serve ``conversation`` for every request (``None``: choose by question again)."""
        self._conversation = conversation

    def reset(self) -> None:
        """Forget queued faults and replays and the recorded requests."""
        with self._lock:
            self._faults.clear()
            self._replays.clear()
            self._requests.clear()

    def _take(self, queue: deque[list[Any]]) -> Any:
        with self._lock:
            if not queue:
                return None
            entry = queue[0]
            entry[1] -= 1
            if entry[1] == 0:
                queue.popleft()
            return entry[0]

    def _count_connection(self, delta: int) -> None:
        with self._changed:
            self._active += delta
            self._changed.notify_all()

    # -- the server loop -------------------------------------------------------------------------

    async def _main(self, on_ready: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._on_connection, self.host, self._requested_port)
        self._port = server.sockets[0].getsockname()[1]
        on_ready()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()
            self._port = None

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._count_connection(+1)
        conn = Connection(reader, writer)
        try:
            while True:
                try:
                    request = await conn.read_request()
                except BadRequest as exc:
                    body = error_body("dashscope", "InvalidParameter", str(exc), str(uuid.uuid4()))
                    await conn.send_full(exc.status, [("content-type", _JSON_TYPE), ("connection", "close")], body)
                    break
                if request is None or not await self._exchange(conn, request):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to answer
        except asyncio.CancelledError:
            # stop() cancels connections. Python 3.11's start_server callback logs a cancelled
            # handler task as an error, so the cancellation ends here, quietly.
            pass
        finally:
            # On stop, abort: a graceful close would wait for a reader that may never read.
            if self._stopping is not None and self._stopping.is_set():
                writer.transport.abort()
            else:
                writer.close()
            self._tasks.discard(task)
            self._count_connection(-1)

    async def _exchange(self, conn: Connection, request: Request) -> bool:
        """Answer one request while watching for the client hanging up; True to keep the connection."""
        respond = asyncio.ensure_future(self._respond(conn, request))
        hangup = asyncio.ensure_future(conn.wait_for_eof())
        try:
            await asyncio.wait({respond, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (respond, hangup):
                if not task.done():
                    task.cancel()
            await asyncio.gather(respond, hangup, return_exceptions=True)
        if respond.cancelled():
            return False
        if (error := respond.exception()) is not None:
            if not isinstance(error, ConnectionError):
                # A bug in the emulator, not a client leaving: say so instead of a silent close.
                _log.error("emulator failed answering %s %s", request.method, request.path, exc_info=error)
            return False
        return respond.result() and not (hangup.done() and not hangup.cancelled())

    # -- one request -------------------------------------------------------------------------------

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
        if self._throttle is not None and (wait := self._throttle.admit(time.monotonic())) is not None:
            self.throttled += 1
            code = "Throttling.RateQuota"
            retry_after = [("retry-after", f"{wait:.3f}")]
            await self._send_error(conn, endpoint.shape, 429, code, default_message(code, 429), fresh_id, retry_after)
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
        await conn.send_full(200, [("content-type", _JSON_TYPE), ("x-request-id", request_id)], payload)
        return True

    def _record(self, request: Request) -> Any:
        """Keep the request for ``requests``; returns its parsed JSON body (``None`` if not JSON)."""
        try:
            body: Any = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        with self._changed:
            self._requests.append(
                RecordedRequest(request.method, request.path, dict(request.headers), body, request.body)
            )
            self._changed.notify_all()
        return body

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

    def _choose(self, question: str, endpoint: Endpoint) -> Conversation:
        if self._conversation is not None:
            return self._conversation
        return scripted_conversation(question, endpoint.family) or generic_conversation(question)

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
        headers = [("content-type", _JSON_TYPE), ("x-request-id", request_id), *(extra or [])]
        await conn.send_full(status, headers, error_body(shape, code, message, request_id, workspace=workspace))

    async def _respond_whole(self, conn: Connection, renderer: ResponsesRenderer, fault: Fault | None) -> bool:
        """A non-streaming Responses request: the whole response object as JSON."""
        if fault is not None and fault.kind == "rate_limit_200":
            obj = renderer.rate_limit_object(fault.message or RESPONSES_RATE_LIMIT_MESSAGE)
        else:
            obj = renderer.final_object()
        payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        await conn.send_full(200, [("content-type", _JSON_TYPE), ("x-request-id", renderer.ctx.request_id)], payload)
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
                await sink.send(shaper.shape_extra(data))
            await sink.flush()
            await conn.end_chunked()
            return False
        # drop: what was sent stays sent; the stream just stops, without its terminating chunk.
        conn.writer.close()
        return False
