"""Run handles: a long call is answered with a run_id, and qwen_code_interpreter_result gets the result."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from mcp_server._schema import RunPendingModel
from mcp_server.runs import MemoryRunStore, RunRecord, RunStore
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .conftest import FAST_HEARTBEAT
from .test_tool import MODES, Progress, cancel_while_thinking, text_of

pytestmark = pytest.mark.anyio


def slow_server(emu: Emulator, **options: Any) -> Any:
    return create_server(
        api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, heartbeat_interval=FAST_HEARTBEAT, **options
    )


@contextlib.asynccontextmanager
async def stalled_run(max_wait: float) -> AsyncIterator[tuple[Emulator, Client]]:
    """A client of a server that holds a call ``max_wait`` s, over a stream that stalls 30 s after "thinking"."""
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with Client(slow_server(emu, max_wait=max_wait), raise_exceptions=True) as client:
            yield emu, client


@contextlib.asynccontextmanager
async def replicas(
    emu: Emulator, shared: RunStore | None = None, starter: dict[str, Any] | None = None, **poller: Any
) -> AsyncIterator[tuple[Client, Client, MCPServer]]:
    """Clients of two replicas sharing a run store (*shared*, else a new in-memory one): the first answers a call
    with a handle after 0.05 s (*starter* adds options), the second is built with *poller* to poll it; and the
    second's server."""
    store = MemoryRunStore() if shared is None else shared
    settings: dict[str, Any] = {"api_key": PLANTED_KEY, "base_url": emu.base_url, "max_retries": 0, "run_store": store}
    starting = create_server(**settings, max_wait=0.05, **(starter or {}))
    polling = create_server(**settings, **poller)
    async with Client(starting, raise_exceptions=True) as a, Client(polling, raise_exceptions=True) as b:
        yield a, b, polling


def pending_of(result: CallToolResult) -> RunPendingModel:
    assert not result.is_error, text_of(result)
    return RunPendingModel.model_validate(result.structured_content)


@pytest.mark.parametrize("mode", MODES)
async def test_a_run_still_going_after_max_wait_is_answered_with_a_handle_and_the_result_tool_returns_the_result(
    mode: str,
) -> None:
    # The sandbox "runs" for 0.5 s, longer than the server holds a call (0.1 s): the first answer is a handle.
    with Emulator(code_pause=0.5) as emu:
        server = slow_server(emu, max_wait=0.1)
        async with Client(server, mode=mode, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                handle = pending_of(first)
                polls = [first]
                while polls[-1].structured_content and polls[-1].structured_content.get("status") == "running":
                    polls.append(await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}))

    text = text_of(first)
    assert handle.status == "running" and handle.run_id.startswith("run_")
    assert f'call {RESULT_TOOL_NAME} with run_id "{handle.run_id}"' in text
    assert "not an error" in text and f"Do not call {TOOL_NAME} again" in text
    final = polls[-1]
    assert not final.is_error
    assert SEED_ANSWER in text_of(final)
    assert final.structured_content is not None and final.structured_content["code_runs"][0]["code"] == "123**21"
    assert len(emu.requests) == 1  # asking for the result never starts another run


async def test_asking_again_while_the_run_is_still_going_returns_the_handle_again_after_waiting() -> None:
    async with stalled_run(max_wait=0.1) as (emu, client):
        with anyio.fail_after(20):
            handle = pending_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
            progress = Progress()
            again = await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=progress)

    assert pending_of(again).run_id == handle.run_id
    assert progress.messages[0] == "thinking"  # the stage the run is in, reported at once
    assert len(emu.requests) == 1


async def test_giving_up_on_a_result_wait_leaves_the_run_going_but_giving_up_on_the_call_cancels_it() -> None:
    async with stalled_run(max_wait=5) as (emu, client):
        with anyio.fail_after(20):
            await cancel_while_thinking(client, emu)

    assert len(emu.requests) == 1


async def test_an_unknown_run_id_says_so_and_how_to_get_an_answer(emu: Emulator) -> None:
    async with Client(slow_server(emu), raise_exceptions=True) as client:
        with anyio.fail_after(10):
            result = await client.call_tool(RESULT_TOOL_NAME, {"run_id": "run_nope"})

    assert result.is_error
    text = text_of(result)
    assert "has no run 'run_nope'" in text and "expired" in text and f"call {TOOL_NAME} again" in text
    assert emu.requests == []


async def test_with_max_wait_0_a_long_call_is_held_to_the_end_and_there_is_no_result_tool() -> None:
    with Emulator(code_pause=0.3) as emu:
        async with Client(slow_server(emu, max_wait=0), raise_exceptions=True) as client:
            with anyio.fail_after(20):
                tools = await client.list_tools()
                result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert [tool.name for tool in tools.tools] == [TOOL_NAME]
    assert not result.is_error and SEED_ANSWER in text_of(result)


@pytest.mark.parametrize("options", [{"max_wait": -1}, {"max_wait": float("nan")}, {"result_ttl": 0}])
def test_invalid_run_settings_are_refused(options: dict[str, Any]) -> None:
    from qwen_ci_tool import ConfigurationError

    with pytest.raises(ConfigurationError, match="number of seconds"):
        create_server(api_key=PLANTED_KEY, **options)


# --- the store ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def finished(record: RunRecord, at: float) -> RunRecord:
    return record.advanced(state="finished", result={"content": []}, finished_at=at)


async def test_the_store_keeps_a_finished_result_for_its_ttl_then_forgets_it() -> None:
    clock = Clock()
    store = MemoryRunStore(ttl=60, clock=clock)
    record = RunRecord("run_a", started_at=clock.now)
    await store.put(record)
    await store.put(finished(record, clock.now))

    clock.now += 59
    assert (await store.get("run_a")) is not None
    clock.now += 1
    assert await store.get("run_a") is None
    assert await store.wait("run_a", -1, 0) is None


async def test_expired_results_are_swept_out_in_the_order_they_expire_not_the_order_runs_started() -> None:
    clock = Clock()
    store = MemoryRunStore(ttl=60, clock=clock)
    for name, finish in (("run_late", 30.0), ("run_early", 0.0), ("run_mid", 10.0), ("run_again", 0.0)):
        record = RunRecord(name, started_at=clock.now)
        await store.put(record)
        await store.put(finished(record, clock.now + finish))
    start = clock.now
    await store.put(finished(RunRecord("run_again", started_at=start, version=1), start + 25))  # its newer record
    await store.put(RunRecord("run_running", started_at=clock.now))

    seen = []
    for elapsed in (59, 60, 70, 84, 85, 89, 90, 1000):
        clock.now = start + elapsed
        seen.append(len(store))  # counting sweeps the table
    assert seen == [5, 4, 3, 3, 2, 2, 1, 1], "each result goes once its own TTL has passed; a running run never"
    assert await store.get("run_running") is not None


async def test_the_store_is_bounded_by_dropping_the_oldest_finished_runs_never_running_ones() -> None:
    clock = Clock()
    store = MemoryRunStore(max_runs=2, clock=clock)
    running = RunRecord("run_running", started_at=clock.now)
    await store.put(running)
    old = RunRecord("run_old", started_at=clock.now)
    await store.put(old)
    await store.put(finished(old, clock.now))
    await store.put(RunRecord("run_new", started_at=clock.now))

    assert await store.get("run_old") is None
    assert await store.get("run_running") == running
    assert len(store) == 2


async def test_a_store_wait_returns_at_the_next_change_or_after_its_timeout() -> None:
    store = MemoryRunStore()
    record = RunRecord("run_a", started_at=0.0)
    await store.put(record)

    assert await store.wait("run_a", record.version, 0.01) == record  # nothing changed: the same record
    newer = record.advanced(stage="thinking")
    async with anyio.create_task_group() as tg:
        seen: list[RunRecord | None] = []

        async def waiter() -> None:
            seen.append(await store.wait("run_a", record.version, 30))

        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        await store.put(newer)
    assert seen == [newer]
