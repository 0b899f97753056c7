"""The stdio wire's output: messages written in order by a thread of their own.

The SDK's stdio server writes each message with ``await stdout.write(...)`` then ``await
stdout.flush()`` on an ``anyio.wrap_file``: two trips through a worker thread per message, each
waking the event loop on its way back - here more than the rest of the server's own work for a call
that reports its stages (five progress notifications and the result). Given this stdout instead,
``write`` only collects the text and ``flush`` hands its bytes to one daemon thread that writes them
as they come. The event loop waits only while the client leaves more than ``_MAX_UNWRITTEN`` bytes
unread, as a blocking write would make it wait. As the SDK does for its own stdout, fd 1 points at
stderr meanwhile (stray output never reaches the wire) and is restored at the end.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio
import anyio.to_thread

# The SDK's own claim of fd 1, which it makes for its stdout only when given none.
from mcp.server.stdio import _claim_fd, _open_stdout_diversion

__all__ = ["StdoutLines", "claimed_stdout"]

logger = logging.getLogger("mcp_server")

#: Bytes handed to the writer and not yet written beyond which ``flush`` waits (the client is not reading).
_MAX_UNWRITTEN = 8 * 1024 * 1024


class StdoutLines:
    """What the SDK's stdio server writes to: text collected by ``write``, sent by ``flush``."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._text: list[str] = []
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._sent = 0  # bytes handed to the writer (counted by the event loop)
        self._written = 0  # bytes it has written, or dropped once writing failed (counted by the writer)
        self._progress = threading.Condition()
        self._writer = threading.Thread(target=self._write_all, name="qwen-ci-mcp stdout", daemon=True)
        self._writer.start()

    async def write(self, text: str) -> int:
        self._text.append(text)
        return len(text)

    async def flush(self) -> None:
        data = "".join(self._text).encode("utf-8")
        self._text.clear()
        if not data:
            return
        self._sent += len(data)
        self._queue.put(data)
        if self._sent - self._written > _MAX_UNWRITTEN:
            await anyio.to_thread.run_sync(self._wait_written, self._sent - _MAX_UNWRITTEN, abandon_on_cancel=True)

    def _wait_written(self, count: int) -> None:
        with self._progress:
            self._progress.wait_for(lambda: self._written >= count)

    def _write_all(self) -> None:
        failed = False
        while (data := self._queue.get()) is not None:
            if not failed:
                try:
                    self._file.write(data)
                    self._file.flush()
                except (OSError, ValueError):  # the client has gone: what is left goes nowhere
                    logger.debug("stdout closed; later messages are dropped", exc_info=True)
                    failed = True
            with self._progress:
                self._written += len(data)
                self._progress.notify_all()

    async def aclose(self) -> None:
        """Return once everything handed over is written (or cannot be), and the writer has ended."""
        self._queue.put(None)
        await anyio.to_thread.run_sync(self._writer.join, abandon_on_cancel=True)


@contextlib.asynccontextmanager
async def claimed_stdout() -> AsyncIterator[StdoutLines]:
    """fd 1 claimed for the wire (pointed at stderr meanwhile), written through :class:`StdoutLines`."""
    file, release = _claim_fd(1, sys.stdout, "wb", _open_stdout_diversion)
    stdout = StdoutLines(file)
    try:
        yield stdout
    finally:
        try:
            await stdout.aclose()
        finally:
            if release is not None:
                release()
