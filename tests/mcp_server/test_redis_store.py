"""The Redis run store against a real redis-server: records, waits woken by writes, a dead replica's runs."""

from __future__ import annotations

import anyio
import pytest

from mcp_server.runs import RunRecord, new_run_id
from mcp_server.runs.redis_store import RedisRunStore

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_wait_on_one_replica_returns_the_record_another_replica_writes(redis_url: str) -> None:
    writer, reader = RedisRunStore(redis_url), RedisRunStore(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0, owner="alice")
    await writer.put(record)
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                got: list[RunRecord | None] = []

                async def wait() -> None:
                    got.append(await reader.wait(record.run_id, record.version, 60))

                tg.start_soon(wait)
                await anyio.wait_all_tasks_blocked()
                await writer.put(record.advanced(stage="running code #1"))
    finally:
        await writer.aclose()
        await reader.aclose()

    assert got and got[0] is not None and got[0].stage == "running code #1" and got[0].owner == "alice"


async def test_a_running_record_silent_past_stale_after_reads_as_lost(redis_url: str) -> None:
    clock = Clock()
    store = RedisRunStore(redis_url, stale_after=100, clock=clock)
    record = RunRecord(new_run_id(), started_at=clock.now)
    try:
        await store.put(record)
        clock.now += 99
        fresh = await store.get(record.run_id)
        clock.now += 2
        lost = await store.get(record.run_id)
    finally:
        await store.aclose()

    assert fresh is not None and fresh.state == "running"
    assert lost is not None and lost.state == "finished" and lost.result is not None and lost.result["isError"]
    assert "stopped before it finished" in lost.result["content"][0]["text"]
