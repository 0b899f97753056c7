"""stdio serving that ends gracefully: at end of input or on SIGTERM/SIGINT, calls in flight finish.

The SDK's stdio server stops as soon as stdin ends, dropping every call still running. Here the
input the SDK reads is a wrapper around stdin that, at end of input (or on a signal), drains the
runs (``--shutdown-grace``, then the rest are cancelled with their partials) while it keeps reading:
a request that arrives meanwhile is answered here with an error saying the server is shutting
down (notifications, such as a cancel, still reach the SDK). Once every request read before has
been answered on stdout, or the grace is over (``runs.deadline``), it reports end of input.

The wrapper also answers, itself, a request the SDK would drop without a word (a lone UTF-16
surrogate escape such as ``"\\ud800"`` is not valid JSON text for its parser), so that the client
gets an error instead of waiting for its timeout; a line that is not JSON at all, which the SDK
drops with a DEBUG line only, is logged as a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self, cast

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import WriteStream
from mcp.shared.message import SessionMessage

from ._server import server_runtime
from ._signals import signals
from ._stdout import StdoutLines, claimed_stdout
from ._texts import SHUTDOWN_ERROR_MESSAGE
from .runs.deadline import Deadline

__all__ = ["serve_stdio"]

logger = logging.getLogger("mcp_server")

#: JSON-RPC error code of the answer to a request that arrives while the server shuts down (as over HTTP).
_SHUTDOWN_ERROR_CODE = -32000
#: Any \uD800-\uDFFF escape: only lines with one need the closer (slower) look.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _lines_of(fd: int) -> Iterator[bytes]:
    """The lines read from *fd* with plain ``os.read`` calls: no buffered reader whose lock a
    daemon thread could still hold at interpreter exit (which aborts the process)."""
    pending = bytearray()
    while chunk := os.read(fd, 1 << 16):
        start = len(pending)
        pending += chunk
        end = pending.find(b"\n", start)
        while end >= 0:
            yield bytes(pending[: end + 1])
            del pending[: end + 1]
            end = pending.find(b"\n")
    if pending:
        yield bytes(pending)


class _StdinLines:
    """Lines of stdin read by a daemon thread: a server stopped by a signal exits even while the
    thread still blocks in a read (a worker thread from anyio would keep the process alive)."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[str](1)

    def start(self) -> None:
        token = anyio.lowlevel.current_token()
        send = self._send

        def pump() -> None:
            try:
                for line in _lines_of(sys.stdin.fileno()):
                    anyio.from_thread.run(send.send, line.decode("utf-8", "replace"), token=token)
            # The loop has closed (a pending hand-over is then cancelled: a BaseException), input was
            # closed, or stdin broke: either way this thread's work is over, and it ends quietly.
            except BaseException:
                logger.debug("stdin reader stopped", exc_info=True)
            finally:
                with contextlib.suppress(BaseException):
                    anyio.from_thread.run_sync(send.close, token=token)

        threading.Thread(target=pump, name="qwen-ci-mcp stdin", daemon=True).start()

    async def readline(self) -> str:
        """The next line, or "" at end of input."""
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return ""

    def close(self) -> None:
        """Stop taking lines: the reader thread's next hand-over fails, and it ends."""
        self._receive.close()


class _Input:
    """The lines of stdin as the SDK reads them, with a graceful end and answers for unreadable lines."""

    def __init__(self, stdin: _StdinLines, server: MCPServer, grace: float) -> None:
        self._stdin = stdin
        self._runtime = server_runtime(server)
        self._grace = grace
        self._ending = False
        self._ended = anyio.Event()
        self._unanswered: set[str] = set()
        self._answered = anyio.Event()
        self.replies: list[SessionMessage] = []
        self.write: WriteStream[SessionMessage] | None = None
        self.tasks: anyio.abc.TaskGroup | None = None

    def stop(self) -> None:
        """Begin the end (a signal, or end of input): drain, refusing new requests meanwhile."""
        if self._ending:
            return
        self._ending = True
        assert self.tasks is not None
        self.tasks.start_soon(self._end)

    def answered(self, request_id: object) -> None:
        self._unanswered.discard(str(request_id))
        self._answered.set()

    def __aiter__(self) -> _Input:
        return self

    async def __anext__(self) -> str:
        while (line := await self._next_line()) is not None:
            if self._ending and self._refused(line):
                await self._flush_replies()
                continue
            if self._inspect(line):
                return line
            await self._flush_replies()
        raise StopAsyncIteration

    async def _next_line(self) -> str | None:
        """The next line; None once the end is complete (at end of input, the end begins here)."""
        got: list[str] = []
        async with anyio.create_task_group() as tg:

            async def read() -> None:
                got.append(await self._stdin.readline())
                tg.cancel_scope.cancel()

            async def ended() -> None:
                await self._ended.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(read)
            tg.start_soon(ended)
        if got and got[0]:
            return got[0]
        self.stop()
        await self._ended.wait()
        return None

    def _refused(self, line: str) -> bool:
        """During the end: answer a request with an error here (True); anything else goes on (False)."""
        try:
            message = json.loads(line)
        except ValueError:
            return False
        if not (isinstance(message, dict) and "id" in message and "method" in message):
            return False
        error = types.JSONRPCError(
            jsonrpc="2.0",
            id=message["id"],
            error=types.ErrorData(code=_SHUTDOWN_ERROR_CODE, message=SHUTDOWN_ERROR_MESSAGE),
        )
        self.replies.append(SessionMessage(error))
        return True

    def _inspect(self, line: str) -> bool:
        """Note a request that needs an answer; False for a line answered here instead of passed on."""
        if _SURROGATE_ESCAPE.search(line):
            try:
                types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except ValueError:
                if not self._unreadable(line):
                    return False
        try:
            message = json.loads(line)
        except ValueError:
            if line.strip():  # the SDK drops it, logging only at DEBUG: without this line nobody knows
                logger.warning(
                    "qwen-ci-mcp: ignored a line of input that is not JSON (%d characters): each line must be "
                    "one JSON-RPC message; a request in it gets no answer (is something else writing to stdin?)",
                    len(line.rstrip("\n")),
                )
            return True
        if isinstance(message, dict):
            if "id" in message and "method" in message:
                self._unanswered.add(str(message["id"]))
            elif message.get("method") == "notifications/cancelled":  # a cancelled request gets no answer
                params = message.get("params")
                if isinstance(params, dict):
                    self.answered(params.get("requestId"))
        return True

    def _unreadable(self, line: str) -> bool:
        """A line the SDK would drop: True to pass it on anyway, False when answered (or dropped) here."""
        try:
            message = json.loads(line)
        except ValueError:
            return True  # not JSON at all: _inspect warns, the SDK drops it
        if not (isinstance(message, dict) and "id" in message and "method" in message):
            return False  # a notification or a response: nobody waits for an answer
        what = "a lone UTF-16 surrogate escape" if _has_lone_surrogate(message) else "text the JSON parser refuses"
        error = types.JSONRPCError(
            jsonrpc="2.0",
            id=message["id"],
            error=types.ErrorData(
                code=types.PARSE_ERROR,
                message=f"The request contains {what} (such as \\ud800 without its pair), which is not "
                "valid Unicode text. Send valid UTF-8, writing any character beyond U+FFFF as a complete "
                "surrogate pair; then call again.",
            ),
        )
        self.replies.append(SessionMessage(error))
        return False

    async def _flush_replies(self) -> None:
        while self.replies and self.write is not None:
            await self.write.send(self.replies.pop(0))

    async def _end(self) -> None:
        deadline = Deadline(self._grace)  # the drain and the answers end within it
        logger.info(
            "qwen-ci-mcp: input ended: letting calls in flight finish (up to %g s; exit within %g s)",
            deadline.runs_grace,
            deadline.grace,
        )
        await self._runtime.drain(deadline)
        with anyio.move_on_after(deadline.left()) as delivery:
            while self._unanswered:
                self._answered = anyio.Event()
                await self._answered.wait()
        if delivery.cancelled_caught:
            logger.warning(
                "qwen-ci-mcp: %d requests still unanswered at the end of the %g s grace; exiting anyway",
                len(self._unanswered),
                deadline.grace,
            )
        self._ended.set()
        self._stdin.close()


class _Output:
    """The server's write stream, noting each answer once it has been handed to stdout."""

    def __init__(self, inner: WriteStream[SessionMessage], on_answer: Callable[[object], None]) -> None:
        self._inner = inner
        self._on_answer = on_answer

    async def send(self, item: SessionMessage, /) -> None:
        await self._inner.send(item)
        message = item.message
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            self._on_answer(message.id)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _as_file(stream: _Input | StdoutLines) -> anyio.AsyncFile[str]:
    """What ``stdio_server`` reads or writes: ours have the methods it calls (iteration; write and flush)."""
    return cast("anyio.AsyncFile[str]", stream)


async def serve_stdio(server: MCPServer, *, shutdown_grace: float) -> None:
    """Serve over stdin/stdout until end of input, SIGTERM or SIGINT, then end gracefully."""
    stdin = _StdinLines()
    stdin.start()
    lines = _Input(stdin, server, shutdown_grace)
    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async serves, with our input
    async with claimed_stdout() as out, stdio_server(stdin=_as_file(lines), stdout=_as_file(out)) as (read, write):
        lines.write = write
        async with anyio.create_task_group() as tg:
            lines.tasks = tg

            async def on_signals() -> None:
                with signals("SIGTERM", "SIGINT") as received:  # watched to the end: none lands mid-bookkeeping
                    await anext(received)
                    lines.stop()
                    signum = await anext(received)
                # A second signal ends the process at once, as that signal's default does, now that the default
                # handlers are back: Ctrl-C a KeyboardInterrupt raised here (exit 130), SIGTERM the process ended.
                signal.raise_signal(signum)

            tg.start_soon(on_signals)
            await lowlevel.run(read, _Output(write, lines.answered), lowlevel.create_initialization_options())
            tg.cancel_scope.cancel()
