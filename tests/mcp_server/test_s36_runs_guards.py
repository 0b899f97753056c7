"""Guards from the s36 hand sweep of the run stores, the runner and the HTTP layer (issue 26): the quiet
effects a one-line break would leave unseen - a subscription never closed, a table entry never released.

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import anyio
import pytest
import redis.asyncio as aioredis

from mcp_server.runs import RunRecord, new_run_id
from mcp_server.runs.memory import MemoryRunStore
from mcp_server.runs.redis_store import RedisRunStore

pytestmark = pytest.mark.anyio


async def _subscribers(raw: aioredis.Redis, channel: str) -> int:
    counts = await raw.pubsub_numsub(channel)
    return int(counts[0][1])


async def test_a_redis_wait_unsubscribes_from_its_run_once_it_returns_so_waits_leave_no_connections_open(
    redis_url: str,
) -> None:
    # Break: RedisRunStore.wait's `finally: await _close(pubsub)` dropped (one subscribed connection per wait).
    store = RedisRunStore(redis_url)
    raw = aioredis.Redis.from_url(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0)
    channel = f"qwen_ci:run:{record.run_id}"
    try:
        with anyio.fail_after(10):
            await store.put(record)
            assert await store.wait(record.run_id, record.version, 0.05) == record  # timed out: the record as it is
            assert await store.wait(record.run_id, -1, 5) == record  # newer than asked at once
            assert await _subscribers(raw, channel) == 0
    finally:
        await store.aclose()
        await raw.aclose()


async def test_listening_for_cancels_in_redis_ends_its_subscription_when_the_listener_is_closed(
    redis_url: str,
) -> None:
    # Break: RedisRunStore.cancels' `finally: await _close(pubsub)` dropped (the subscription outlives its listener).
    store = RedisRunStore(redis_url)
    raw = aioredis.Redis.from_url(redis_url)
    listening = anyio.Event()
    try:
        with anyio.fail_after(10):
            cancels = store.cancels(listening.set)
            async with anyio.create_task_group() as tg:

                async def take_one() -> None:
                    async for _ in cancels:
                        return

                tg.start_soon(take_one)
                await listening.wait()
                assert await _subscribers(raw, "qwen_ci:cancel") == 1
                await store.publish_cancel("p", "1")
            await cancels.aclose()  # type: ignore[attr-defined]
            assert await _subscribers(raw, "qwen_ci:cancel") == 0
    finally:
        await store.aclose()
        await raw.aclose()


async def test_adding_a_run_to_the_memory_store_sweeps_out_results_past_their_ttl_without_anyone_reading_them() -> None:
    # Break: MemoryRunStore.put's `self._prune()` dropped (expired results stay in the table until read or counted).
    now = [0.0]
    store = MemoryRunStore(ttl=60, clock=lambda: now[0])
    done = RunRecord(new_run_id(), started_at=0.0)
    await store.put(done)
    await store.put(done.advanced(state="finished", result={"content": []}, finished_at=0.0))
    now[0] = 60.0
    await store.put(RunRecord(new_run_id(), started_at=60.0))
    assert done.run_id not in store._entries and store._finished == []


async def test_a_memory_store_wait_after_a_change_waits_for_the_next_change_not_the_one_already_seen() -> None:
    # Break: MemoryRunStore.put's `entry.changed = None` dropped (every later wait wakes at once, on the old change).
    store = MemoryRunStore()
    record = RunRecord(new_run_id(), started_at=0.0)
    await store.put(record)
    seen: list[RunRecord | None] = []

    async def waiter(after: int) -> None:
        seen.append(await store.wait(record.run_id, after, 30))

    newer = record.advanced(stage="thinking")
    newest = newer.advanced(stage="running code #1")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, record.version)
            await anyio.wait_all_tasks_blocked()
            await store.put(newer)
        assert seen == [newer]
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, newer.version)
            await anyio.wait_all_tasks_blocked()
            assert seen == [newer], "nothing changed since: the second wait still waits"
            await store.put(newest)
        assert seen == [newer, newest]
