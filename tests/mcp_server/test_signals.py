"""``_signals.signals``: the signals named arrive as they come, on a loop that watches signals and on one that
cannot (Windows, where a plain handler passes them on); a name the platform lacks never arrives; the handlers
are gone once the block ends."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from types import FrameType

import anyio
import pytest

from mcp_server._signals import signals

pytestmark = pytest.mark.anyio


async def next_of(received: AsyncIterator[int]) -> int:
    with anyio.fail_after(10):
        return await anext(received)


async def still_waiting(received: AsyncIterator[int]) -> bool:
    """Whether nothing arrives while every other task waits (the iterator is left waiting, then cancelled)."""
    got: list[int] = []

    async def take() -> None:
        got.append(await anext(received))

    async with anyio.create_task_group() as tg:
        tg.start_soon(take)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    return not got


def make_loop_windows_like(monkeypatch: pytest.MonkeyPatch) -> None:
    """The running loop cannot watch signals, as asyncio's on Windows."""

    def add_signal_handler(*_args: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(asyncio.get_running_loop(), "add_signal_handler", add_signal_handler)


async def test_each_named_signal_arrives_as_its_number_and_others_do_not() -> None:
    with signals("SIGUSR1", "SIGUSR2") as received:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert await next_of(received) == signal.SIGUSR2
        os.kill(os.getpid(), signal.SIGUSR1)
        assert await next_of(received) == signal.SIGUSR1
        assert await still_waiting(received)


async def test_the_loops_handlers_are_gone_once_the_block_ends() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    with signals("SIGUSR1") as received:
        during = signal.getsignal(signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert await next_of(received) == signal.SIGUSR1
    assert during != before and signal.getsignal(signal.SIGUSR1) == before


async def test_a_signal_this_platform_lacks_never_arrives_and_the_others_still_do() -> None:
    with signals("SIGNOSUCH") as nothing:
        assert await still_waiting(nothing)
    with signals("SIGNOSUCH", "SIGUSR1") as received:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert await next_of(received) == signal.SIGUSR1


async def test_where_the_loop_cannot_watch_signals_plain_handlers_pass_them_on_and_are_undone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_loop_windows_like(monkeypatch)
    seen_before: list[int] = []

    def previous(signum: int, _frame: FrameType | None) -> None:
        seen_before.append(signum)

    old = signal.signal(signal.SIGUSR1, previous)
    try:
        with signals("SIGUSR1", "SIGUSR2", "SIGNOSUCH") as received:
            os.kill(os.getpid(), signal.SIGUSR1)
            assert await next_of(received) == signal.SIGUSR1
            os.kill(os.getpid(), signal.SIGUSR2)
            assert await next_of(received) == signal.SIGUSR2
            assert await still_waiting(received)
        assert signal.getsignal(signal.SIGUSR1) is previous and seen_before == []
        assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGUSR1, old)
