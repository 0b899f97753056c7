"""The run stores' wait, the same on both (memory, Redis): a wait that ends without news returns the
record as it stands - never None for a run that exists (the result tool would call it an unknown run)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import pytest

from mcp_server.runs import MemoryRunStore, RunRecord, RunStore, new_run_id
from mcp_server.runs.redis_store import RedisRunStore

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def opened(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[RunStore]:
    if kind == "memory":
        yield MemoryRunStore()
        return
    shared = RedisRunStore(request.getfixturevalue("redis_url"))
    try:
        yield shared
    finally:
        await shared.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
@pytest.mark.parametrize("timeout", [0.0, -1.0, 0.05])
async def test_a_wait_without_news_returns_the_record_as_it_stands(
    kind: str, timeout: float, request: pytest.FixtureRequest
) -> None:
    # Break: `return record` -> `return record if ... record.version > after_version else None` (Redis, no time
    # left): an unchanged run read as no run at all.
    record = RunRecord(new_run_id(), started_at=0.0, owner="alice").advanced(stage="thinking")
    async with opened(kind, request) as store:
        await store.put(record)
        with anyio.fail_after(10):
            got = await store.wait(record.run_id, record.version, timeout)
    assert got is not None and got.version == record.version and got.stage == "thinking"


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_wait_for_a_run_no_store_holds_is_none(kind: str, request: pytest.FixtureRequest) -> None:
    async with opened(kind, request) as store:
        with anyio.fail_after(10):
            assert await store.wait(new_run_id(), 0, 0.0) is None


async def test_cancelled_waits_leave_no_subscription_open_on_redis(redis_url: str) -> None:
    # A wait cancelled by its caller (a client that gave up on the result tool) must not leave its
    # subscription open, one per cancel. (Audit 14's a22 dropped our shield around the close: equivalent with
    # redis-py 8, whose PubSub.aclose shields its own teardown; this holds the promise whichever does it.)
    import redis.asyncio as redis

    store, watcher = RedisRunStore(redis_url), redis.Redis.from_url(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0)
    try:
        await store.put(record)
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(store.wait, record.run_id, record.version, 60.0)
                while sum(1 for c in await watcher.client_list() if int(c.get("sub", 0)) > 0) < 5:
                    await anyio.sleep(0.01)  # every wait has subscribed
                tg.cancel_scope.cancel()
            # Redis notices a closed connection in its own time: the subscriptions must be gone within a bound
            # (on a loaded machine a look right after the cancel may still list them; a leak never goes).
            with anyio.move_on_after(5):
                while [c for c in await watcher.client_list() if int(c.get("sub", 0)) > 0]:
                    await anyio.sleep(0.02)
            clients = await watcher.client_list()
    finally:
        await store.aclose()
        await watcher.aclose()
    assert [c for c in clients if int(c.get("sub", 0)) > 0] == []
