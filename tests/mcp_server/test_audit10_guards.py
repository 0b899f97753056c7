"""Behaviours audit 10 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import contextlib

import anyio

from mcp_server.http.cancels import Exchanges


async def test_waiting_for_quiet_returns_once_overlapping_exchanges_have_all_ended() -> None:
    # A drain waits for quiet while two HTTP requests overlap: once both ended it goes on at once, not at
    # its deadline (the second request must not replace the event the waiter already waits on).
    exchanges = Exchanges()
    quiet = anyio.Event()

    async def wait() -> None:
        await exchanges.wait_quiet(0)
        quiet.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            with contextlib.ExitStack() as both:
                both.enter_context(exchanges.open("client", 1))
                tg.start_soon(wait)
                await anyio.wait_all_tasks_blocked()
                both.enter_context(exchanges.open("client", 2))
                await anyio.wait_all_tasks_blocked()
                assert not quiet.is_set(), "returned with requests in flight"
            with anyio.fail_after(5):
                await quiet.wait()
