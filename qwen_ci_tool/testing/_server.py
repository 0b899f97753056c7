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
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, get_args

from ._conversations import generic_conversation, scripted_conversation
from ._endpoints import (
    Endpoint,
)
from ._faults import Fault
from ._http import BadRequest, Connection, Request
from ._replies import JSON_TYPE, Replies
from ._script import Conversation
from ._throttle import Throttle, WaitHeaders
from ._wire import (
    error_body,
)

__all__ = ["Emulator", "RecordedRequest"]

_log = logging.getLogger(__name__)

_START_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes = field(default=b"", repr=False)


class Emulator(Replies):
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
    a second's worth at once. ``rate_limit_headers`` says how a refusal names its wait:
    ``"retry-after"`` (the default), ``"x-ratelimit"`` (OpenAI-style ``x-ratelimit-*-requests``: the
    bucket, none left, the time until it is full) or ``"none"``. ``call_seconds`` makes every
    streamed reply last that long: all but its last event are sent at once, the last when that many
    seconds have passed since the request (as a real call's result comes after the sandbox ran);
    block mode included.
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
        rate_limit_headers: WaitHeaders = "retry-after",
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
        if rate_limit_headers not in get_args(WaitHeaders):
            raise ValueError(f"rate_limit_headers must be one of {get_args(WaitHeaders)}, not {rate_limit_headers!r}")
        self.rate_limit_headers = rate_limit_headers
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
                    await conn.send_full(exc.status, [("content-type", JSON_TYPE), ("connection", "close")], body)
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

    def _choose(self, question: str, endpoint: Endpoint) -> Conversation:
        if self._conversation is not None:
            return self._conversation
        return scripted_conversation(question, endpoint.family) or generic_conversation(question)
