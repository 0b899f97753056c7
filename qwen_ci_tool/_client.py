"""The two clients: thin sync and async I/O loops around :class:`~qwen_ci_tool._engine.CallState`."""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, Unpack

import anyio
import httpx

from . import _constants as C
from ._batch import BatchOutcome, BatchTask, Began, Stopped, TaskInput, run_many_async, run_many_sync
from ._config import ClientSettings, Settings, build_messages, resolve_settings
from ._engine import CallState, Recorder
from ._limiter import AdaptiveLimiter
from ._proxy import new_client
from ._result import CodeInterpreterResult, StreamEvent
from ._streams import AsyncCodeInterpreterStream, CodeInterpreterStream
from ._watchdog import WATCHDOG

__all__ = [
    "AsyncCodeInterpreter",
    "AsyncCodeInterpreterStream",
    "CodeInterpreter",
    "CodeInterpreterStream",
    "ssl_context",
]


# The clock and the waits between attempts, looked up at call time: tests replace them with a
# fake clock whose sleeps take no time and record what was asked (tests/conftest.py).
_clock = time.monotonic
_sleep = time.sleep
_async_sleep = anyio.sleep


@functools.lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """The TLS context every client of this process shares (the doctor's requests too): loading the CA
    bundle costs ~20 ms. It honours SSL_CERT_FILE / SSL_CERT_DIR as of the first call, as httpx does."""
    return httpx.create_ssl_context()


def _http_options() -> dict[str, Any]:
    # Many concurrent streams in one process are a supported use: connections are not capped. No
    # client-wide timeout: every request carries its call's own (CallState.timeout), and its own
    # headers, User-Agent included (the protocol's build_request), so a client given by the caller sends them too.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
    return {"limits": limits, "verify": ssl_context()}


S = TypeVar("S", CodeInterpreterStream, AsyncCodeInterpreterStream)
B = TypeVar("B", Generator[BatchOutcome, None, None], AsyncGenerator[BatchOutcome, None])


class _ClientBase(Generic[S, B]):
    """Settings and what both clients share: *S* is the client's stream, *B* its batch iterator."""

    _settings: Settings

    def __init__(self, **settings: Unpack[ClientSettings]) -> None:
        self._settings = resolve_settings(**settings)

    @property
    def settings(self) -> Settings:
        """The resolved settings (the key inside is a masked :class:`Secret`)."""
        return self._settings

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def model(self) -> str:
        return self._settings.model

    @property
    def protocol(self) -> str:
        return self._settings.protocol

    def _state(
        self,
        question: str | None,
        messages: Sequence[Mapping[str, Any]] | None,
        record: Recorder | None,
        *,
        retry_rate_limits: bool = True,
    ) -> CallState:
        return CallState(
            self._settings,
            build_messages(question, messages),
            record=record,
            clock=_clock,
            retry_rate_limits=retry_rate_limits,
        )

    def _batch_state(self, task: BatchTask) -> CallState:
        # The batch's limiter owns rate limits: the call does not retry them.
        return self._state(task.question, task.messages, None, retry_rate_limits=False)

    def stream(
        self,
        question: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        record: Recorder | None = None,
    ) -> S:
        """Ask and iterate (``for``, or ``async for`` on the async client) over typed events as they
        arrive. Validates the input at once."""
        return self._stream(self._state(question, messages, record))

    def run_many(
        self,
        tasks: Iterable[TaskInput],
        *,
        concurrency: int = C.DEFAULT_BATCH_CONCURRENCY,
        limiter: AdaptiveLimiter | None = None,
    ) -> B:
        """Run many tasks, at most ``concurrency`` at once, and yield each one's outcome as it finishes.

        ``tasks``: question strings (id: the position), :class:`BatchTask` objects, or dicts with
        ``id`` and ``question`` or ``messages``; read lazily. Each :class:`BatchOutcome` has the id
        and the result or the error: a failed task never ends the iteration. On rate limits new
        calls wait for ``Retry-After``, the refused task is sent again (the call itself does not
        retry a 429), and starts are spaced evenly below the rate the service was seen to admit,
        probing upward as calls are admitted (``limiter=`` passes your own :class:`AdaptiveLimiter`,
        e.g. to watch ``limiter.rate``). The sync client runs calls on a thread pool: leaving the
        loop early stops new calls, and calls in flight stop at their next chunk. The async client
        runs them in an anyio task group: iterate inside ``contextlib.aclosing(aci.run_many(...))``
        to stop early, and the calls in flight are cancelled and their connections closed at once.
        """
        return self._run_many(tasks, limiter or AdaptiveLimiter(concurrency))

    def _stream(self, state: CallState) -> S:
        raise NotImplementedError

    def _run_many(self, tasks: Iterable[TaskInput], limiter: AdaptiveLimiter) -> B:
        raise NotImplementedError

    def __repr__(self) -> str:
        s = self._settings
        key = "Secret('**********')" if s.api_key is not None else "None"
        return (
            f"{type(self).__name__}(base_url={s.base_url!r}, protocol={s.protocol!r}, model={s.model!r}, api_key={key})"
        )


class _CappedBody:
    """An error body, read up to ``MAX_ERROR_BODY_BYTES`` (by both loops)."""

    __slots__ = ("_body",)

    def __init__(self) -> None:
        self._body = bytearray()

    def add(self, chunk: bytes) -> bool:
        """Keep *chunk*; True once the cap is reached (stop reading)."""
        self._body += chunk
        return len(self._body) >= C.MAX_ERROR_BODY_BYTES

    def value(self) -> bytes:
        return bytes(self._body[: C.MAX_ERROR_BODY_BYTES])


class CodeInterpreter(_ClientBase[CodeInterpreterStream, Generator[BatchOutcome, None, None]]):
    """Synchronous client. Key from ``DASHSCOPE_API_KEY`` unless ``api_key=`` is given.

    Raises subclasses of :class:`~qwen_ci_tool.QwenCIError`: :class:`ConfigurationError` before
    sending, :class:`APIStatusError` subclasses for the service's errors, :class:`APIConnectionError`
    / :class:`APITimeoutError`, :class:`StreamInterruptedError` and :class:`ProtocolError`.
    """

    def __init__(self, *, http_client: httpx.Client | None = None, **settings: Unpack[ClientSettings]) -> None:
        super().__init__(**settings)
        self._http = http_client
        self._owns_http = http_client is None
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        if self._http is None:
            with self._lock:
                if self._http is None:
                    self._http = new_client(httpx.Client, **_http_options())
        return self._http

    def run(
        self,
        question: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        record: Recorder | None = None,
    ) -> CodeInterpreterResult:
        """Ask and wait for the whole result."""
        with self.stream(question, messages=messages, record=record) as stream:
            return stream.get_final_result()

    def _stream(self, state: CallState) -> CodeInterpreterStream:
        return CodeInterpreterStream(self._events(state), state)

    def _events(self, state: CallState) -> Iterator[StreamEvent]:
        with state.telemetry:
            while True:
                state.begin_attempt()
                try:
                    yield from self._attempt(state)
                    return
                except Exception as exc:
                    delay = state.after_failure(exc)
                _sleep(delay)

    def _attempt(self, state: CallState) -> Iterator[StreamEvent]:
        req = state.request
        with self._client().stream(
            "POST", req.url, headers=req.headers, content=req.body, timeout=state.timeout()
        ) as response:
            if not state.check_response(response.status_code, response.headers):
                body = _CappedBody()
                for chunk in response.iter_bytes():
                    if body.add(chunk):
                        break
                raise state.response_error(response.status_code, response.headers, body.value())
            watchdog = WATCHDOG.watch(response, state.remaining())
            try:
                for chunk in response.iter_bytes():
                    if state.expired():
                        raise state.timeout_error("total")
                    events = state.feed(chunk)
                    if events:
                        yield from events
                    if state.done:
                        break
                yield from state.finish()
            finally:
                if watchdog is not None:
                    watchdog.cancel()

    def _run_many(self, tasks: Iterable[TaskInput], limiter: AdaptiveLimiter) -> Generator[BatchOutcome, None, None]:
        return run_many_sync(self._run_task, tasks, limiter)

    def _run_task(self, task: BatchTask, stop: threading.Event, began: Began) -> CodeInterpreterResult:
        with self._stream(self._batch_state(task)) as stream:
            admitted = False
            for _ in stream:
                if stop.is_set():  # the batch was closed: a sync read cannot be cancelled, stop here
                    raise Stopped
                if not admitted:  # the first event: the service admitted the call
                    admitted = True
                    began(stream.snapshot)
            return stream.get_final_result()

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> CodeInterpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncCodeInterpreter(_ClientBase[AsyncCodeInterpreterStream, AsyncGenerator[BatchOutcome, None]]):
    """Asynchronous client (asyncio or trio, through anyio). Same settings and errors as
    :class:`CodeInterpreter`; cancelling the awaiting task closes the upstream request at once."""

    def __init__(self, *, http_client: httpx.AsyncClient | None = None, **settings: Unpack[ClientSettings]) -> None:
        super().__init__(**settings)
        self._http = http_client
        self._owns_http = http_client is None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = new_client(httpx.AsyncClient, **_http_options())
        return self._http

    async def run(
        self,
        question: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        record: Recorder | None = None,
    ) -> CodeInterpreterResult:
        """Ask and wait for the whole result."""
        async with self.stream(question, messages=messages, record=record) as stream:
            return await stream.get_final_result()

    def _stream(self, state: CallState) -> AsyncCodeInterpreterStream:
        return AsyncCodeInterpreterStream(self._events(state), state)

    async def _events(self, state: CallState) -> AsyncGenerator[StreamEvent, None]:
        with state.telemetry:
            while True:
                state.begin_attempt()
                try:
                    # aclosing: when the caller stops early, the inner generator (and with it the
                    # HTTP response) is closed now, not whenever it is garbage-collected.
                    async with contextlib.aclosing(self._attempt(state)) as events:
                        async for event in events:
                            yield event
                    return
                except Exception as exc:
                    delay = state.after_failure(exc)
                await _async_sleep(delay)

    async def _attempt(self, state: CallState) -> AsyncGenerator[StreamEvent, None]:
        req = state.request
        async with self._client().stream(
            "POST", req.url, headers=req.headers, content=req.body, timeout=state.timeout()
        ) as response:
            if not state.check_response(response.status_code, response.headers):
                body = _CappedBody()
                # aclosing: a body cut at the cap leaves the iterator suspended; close it now, not in the GC
                async with contextlib.aclosing(response.aiter_bytes()) as error_chunks:  # type: ignore[type-var]
                    async for chunk in error_chunks:
                        if body.add(chunk):
                            break
                raise state.response_error(response.status_code, response.headers, body.value())
            chunks = response.aiter_bytes()
            try:
                while True:
                    # The total deadline bounds each read; the idle timeout is httpx's read timeout.
                    with anyio.move_on_after(state.remaining()) as scope:
                        try:
                            chunk = await chunks.__anext__()
                        except StopAsyncIteration:
                            break
                    if scope.cancelled_caught:
                        raise state.timeout_error("total")
                    events = state.feed(chunk)
                    for event in events:
                        yield event
                    if state.done:
                        break
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
            for event in state.finish():
                yield event

    def _run_many(self, tasks: Iterable[TaskInput], limiter: AdaptiveLimiter) -> AsyncGenerator[BatchOutcome, None]:
        return run_many_async(self._run_task, tasks, limiter)

    async def _run_task(self, task: BatchTask, began: Began) -> CodeInterpreterResult:
        async with self._stream(self._batch_state(task)) as stream:
            admitted = False
            async for _ in stream:
                if not admitted:  # the first event: the service admitted the call
                    admitted = True
                    began(stream.snapshot)
            return await stream.get_final_result()

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncCodeInterpreter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
