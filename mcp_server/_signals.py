"""Signals on every platform: on Windows asyncio cannot watch signals and SIGHUP does not exist.

:func:`signals` yields the signals received among those named. Where the event loop cannot watch
them (``add_signal_handler`` raises ``NotImplementedError``, as on Windows) a plain ``signal.signal``
handler hands them to the loop instead, so Ctrl-C (SIGINT) still ends the server gracefully.
A signal this platform does not have (SIGHUP on Windows) never arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
from collections.abc import AsyncIterator, Iterator
from types import FrameType
from typing import Any

import anyio

__all__ = ["signals"]

logger = logging.getLogger("mcp_server")


async def _never() -> AsyncIterator[int]:
    await anyio.sleep_forever()
    yield 0  # pragma: no cover - never reached; makes this an async generator


@contextlib.contextmanager
def _plain_handlers(present: list[signal.Signals]) -> Iterator[AsyncIterator[int]]:
    """The signals through ``signal.signal`` handlers that pass them to the running loop."""
    loop = asyncio.get_running_loop()
    send, receive = anyio.create_memory_object_stream[int](math.inf)

    def handler(signum: int, _frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(send.send_nowait, signum)

    previous: dict[signal.Signals, Any] = {}
    for sig in present:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not settable here (e.g. not the main thread)
            logger.debug("cannot handle %s here", sig.name)
    try:
        with send, receive:
            yield receive
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def signals(*names: str) -> Iterator[AsyncIterator[int]]:
    """The signals named (``"SIGTERM"``, ...) as they arrive; those the platform lacks never do."""
    present = [s for name in names if isinstance(s := getattr(signal, name, None), signal.Signals)]
    if not present:
        yield _never()
        return
    receiver = anyio.open_signal_receiver(*present)
    try:
        received = receiver.__enter__()
    except NotImplementedError:  # asyncio's add_signal_handler on Windows
        with _plain_handlers(present) as plain:
            yield plain
        return
    with contextlib.ExitStack() as stack:
        stack.push(receiver)
        yield received
