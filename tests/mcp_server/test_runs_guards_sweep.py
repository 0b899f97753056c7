"""Guards from the mutation sweep of ``mcp_server/runs`` and the server's small modules (issue 26).

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import pytest
import redis.asyncio as aioredis
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from mcp_server._fit import size_of
from mcp_server._texts import NOT_STARTED_TEXT
from mcp_server.runs import MemoryRunStore, RunRecord, new_run_id
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.redis_store import RedisRunStore
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from .conftest import FAST_HEARTBEAT
from .test_drain_order import calls_in_turn, runner_on
from .test_runs import pending_of, replicas
from .test_tool import Progress, call, text_of

pytestmark = pytest.mark.anyio


async def test_a_run_of_another_replica_polled_through_the_shared_store_reports_each_stage_once() -> None:
    # Break: in Runner._await, drop `version = record.version` -> the poll re-reads the same record
    # at once and reports its stage again and again until the run moves on or the poll's wait ends.
    with Emulator(code_pause=0.5) as emu:
        # No heartbeat in these waits: every report is a stage the record moved to.
        async with replicas(emu, max_wait=0.3, heartbeat_interval=60) as (a, b, _):
            with anyio.fail_after(20):
                handle = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                polls: list[tuple[CallToolResult, list[str]]] = []
                while not polls or (polls[-1][0].structured_content or {}).get("status") == "running":
                    progress = Progress()
                    answer = await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=progress)
                    polls.append((answer, progress.messages))

    for _, reports in polls:  # each poll starts with the stage the run is in, then each change once
        assert len(reports) == len(set(reports)), f"{len(reports)} reports of {sorted(set(reports))}"
    assert SEED_ANSWER in text_of(polls[-1][0])
    assert len(emu.requests) == 1


async def test_polling_another_replicas_stalled_run_says_its_stage_at_once_beats_meanwhile_and_returns_the_handle() -> (
    None
):
    # Breaks: the store poll's heartbeat task not looping, or sleeping 1 s at least, or until due + now
    # (no heartbeat in the poll); the memory store's wait ignoring its timeout (the poll outlives its
    # max_wait); the wait blocking although the record is already newer (the stage comes only at the end);
    # the handle's stage or its tenths of a second lost; the store-down note shown with a store that is up.
    shared = MemoryRunStore()
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with replicas(emu, shared, max_wait=0.5, heartbeat_interval=FAST_HEARTBEAT) as (a, b, _):
            with anyio.fail_after(20):
                first = await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                handle = pending_of(first)
                while (await shared.get(handle.run_id)).stage != "thinking":  # type: ignore[union-attr]
                    await shared.wait(handle.run_id, (await shared.get(handle.run_id)).version, 5)  # type: ignore[union-attr]
                progress = Progress()
                again = await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=progress)

    assert pending_of(again).run_id == handle.run_id and pending_of(again).stage == "thinking"
    assert progress.messages[0] == "thinking"  # where the run is, at once
    assert handle.elapsed_seconds == round(handle.elapsed_seconds, 1)  # tenths of a second
    # The shared store is up and holds the run: neither handle says otherwise.
    assert "run store" not in text_of(first) and "run store" not in text_of(again)
    assert progress.messages[1:] and all(m.startswith("thinking (still working,") for m in progress.messages[1:])
    assert len(emu.requests) == 1


async def test_a_failure_text_names_the_tool_keeps_the_reasoning_asked_for_and_stays_within_the_cap(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    # Breaks: Results.failure passing no tool name, no include_reasoning, or no max_chars to the text.
    emu.add_fault(Fault.drop(after_events=50))
    emu.add_fault(Fault.drop(after_events=50))
    whole = await call(make_server(), include_reasoning=True)
    capped = await call(make_server(max_output_chars=2000), include_reasoning=True)

    assert whole.is_error and capped.is_error and capped.structured_content is not None
    assert text_of(whole).startswith(f"The {TOOL_NAME} call failed (StreamInterruptedError)")
    assert "## Reasoning" in text_of(whole) and "The user is asking" in text_of(whole)
    assert len(text_of(whole)) > 1000  # more than the half of 2000 the text may take
    assert len(text_of(capped)) + size_of(capped.structured_content) <= 2000


async def test_a_drain_refuses_the_queued_call_unsent_and_cancels_the_running_one_with_its_partial(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Breaks: Runner.drain not taking the shutdown's Deadline as given; a queued call not refused (or
    # refused = False/None) or its log reason changed; Results.cancelled dropping the partial from the
    # text, the reasoning asked for, or the structuredContent; the refused call counted as cancelled.
    caplog.set_level(logging.INFO, logger="mcp_server")
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=50, seconds=30))
        async with runner_on(emu, max_concurrency=1) as (runner, runs):
            answers = await calls_in_turn(runner, runs, True, "running", "queued")
            (running,) = [run for run in runner.live.values() if run.started]
            while running.record.stage != "answering":
                await runner.local.wait(running.record.run_id, running.record.version, 5)
            await runner.drain(Deadline(2))  # runs get 1.5 s of the 2 s grace

    queued = answers["queued"]
    assert queued.is_error and text_of(queued) == NOT_STARTED_TEXT
    assert "cancelled: the server is shutting down; the call had not started" in caplog.text
    assert "call failed (ShuttingDown)" in caplog.text  # counted as refused for the shutdown, not as cancelled
    assert len(emu.requests) == 1  # the queued call was never sent
    cut = answers["running"]
    text = text_of(cut)
    assert cut.is_error and "the server is shutting down (it let running calls finish for 1.5 s)" in text
    assert "What arrived before the failure" in text and "123 to the power of 21 is:" in text
    assert "## Reasoning" in text and "The user is asking" in text
    assert cut.structured_content is not None and cut.structured_content["code_runs"][0]["code"] == "123**21"


class ReadCountingStore(RedisRunStore):
    """A Redis store whose first read sets an event: a wait has looked once and now waits for a change."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.first_read = anyio.Event()

    async def get(self, run_id: str) -> RunRecord | None:
        record = await super().get(run_id)
        self.first_read.set()
        return record


async def test_a_redis_wait_that_began_before_a_write_returns_the_record_written_not_the_one_it_first_read(
    redis_url: str,
) -> None:
    # Break: RedisRunStore.wait returning at its first read whatever its version (`record is not None or ...`).
    writer, reader = RedisRunStore(redis_url), ReadCountingStore(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0)
    got: list[RunRecord | None] = []
    try:
        await writer.put(record)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def wait() -> None:
                    got.append(await reader.wait(record.run_id, record.version, 30))

                tg.start_soon(wait)
                await reader.first_read.wait()
                await writer.put(record.advanced(stage="running code #1"))
    finally:
        await writer.aclose()
        await reader.aclose()

    assert got and got[0] is not None and got[0].stage == "running code #1"


@pytest.mark.parametrize(
    ("options", "state", "keep"),
    [
        ({"ttl": 600, "stale_after": 100}, "finished", 600),  # a result is kept ttl seconds
        ({"ttl": 600, "stale_after": 100}, "running", 700),  # a run: until it reads as lost, then ttl more
        ({"ttl": 600}, "running", 10 * 365 * 86400),  # never stale: kept ten years, the most Redis is asked for
        ({"ttl": 0.5}, "finished", 1),  # under a second: one second (Redis counts whole seconds)
    ],
)
async def test_a_redis_record_expires_after_the_ttl_once_finished_and_after_stale_after_plus_ttl_while_running(
    redis_url: str, options: dict[str, float], state: str, keep: int
) -> None:
    # Breaks: RedisRunStore._expiry choosing the wrong branch, stale_after - ttl, or another cap or floor.
    store = RedisRunStore(redis_url, **options)
    raw = aioredis.Redis.from_url(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0, state=state)  # type: ignore[arg-type]
    try:
        with anyio.fail_after(10):
            await store.put(record)
            left_ms = await raw.pttl(f"qwen_ci:run:{record.run_id}")  # the key named in redis_store's docstring
    finally:
        await store.aclose()
        await raw.aclose()

    assert (keep - 5) * 1000 < left_ms <= keep * 1000


async def test_a_redis_run_silent_exactly_stale_after_still_runs_and_past_it_is_lost_as_of_its_last_write(
    redis_url: str,
) -> None:
    # Breaks: RedisRunStore.get's `silent > stale_after` as `>=`; the lost record's stage or finish time.
    now = [1_000_000.0]
    store = RedisRunStore(redis_url, stale_after=100, clock=lambda: now[0])
    record = RunRecord(new_run_id(), started_at=now[0])
    try:
        with anyio.fail_after(10):
            await store.put(record)
            now[0] += 100
            at_limit = await store.get(record.run_id)
            now[0] += 1
            lost = await store.get(record.run_id)
    finally:
        await store.aclose()

    assert at_limit is not None and at_limit.state == "running"
    assert lost is not None and lost.state == "finished" and lost.stage == "lost"
    assert lost.finished_at == 1_000_000.0  # its result expires ttl after the last write, not after this read


async def test_a_finished_redis_record_older_than_stale_after_keeps_its_result(redis_url: str) -> None:
    # audit 6's m13: only a run still going can be lost with its replica; a result is a result.
    now = [1_000_000.0]
    store = RedisRunStore(redis_url, stale_after=100, clock=lambda: now[0])
    result = {"content": [{"type": "text", "text": "42"}], "isError": False}
    record = RunRecord(new_run_id(), started_at=now[0]).advanced(
        state="finished", stage="done", result=result, finished_at=now[0]
    )
    try:
        with anyio.fail_after(10):
            await store.put(record)
            now[0] += 500
            later = await store.get(record.run_id)
    finally:
        await store.aclose()

    assert later == record
