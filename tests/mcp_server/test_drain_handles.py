"""A result answered with a handle and not collected yet when the server shuts down, driven directly.

Without a shared store the process holds the only copy of such a result: over HTTP (where the
result tool keeps answering while the server drains) the drain waits, within the runs' part of the
grace, until a poll collects it, and says so in the log; with a shared store, or over stdio (which
refuses every request once it drains), it does not wait. A handle answered before the shared store
holds its run says that only this server can answer for it meanwhile.
"""

from __future__ import annotations

import logging
import time

import anyio
import anyio.abc
import pytest

from mcp_server.runs import MemoryRunStore, RunRecord, new_run_id
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.handles import Handles
from mcp_server.runs.runner import Runner
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .test_drain_order import NoProgress, runner_on
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def handle_of_a_run(runner: Runner, runs: anyio.abc.TaskGroup) -> tuple[str, anyio.Event]:
    """Call the tool until it answers with a handle: the run id and an event set when the run has ended."""
    answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)
    assert answer.structured_content is not None and answer.structured_content["status"] == "running"
    run_id = str(answer.structured_content["run_id"])
    return run_id, runner.live[run_id].finished


def start_drain(runner: Runner, runs: anyio.abc.TaskGroup, grace: float | Deadline, *, polls: bool) -> anyio.Event:
    drained = anyio.Event()

    async def drain() -> None:
        await runner.drain(grace, polls=polls)
        drained.set()

    runs.start_soon(drain)
    return drained


async def test_over_http_a_finished_result_answered_with_a_handle_holds_the_drain_until_a_poll_collects_it() -> None:
    with Emulator(code_pause=0.5) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=0.01) as (runner, runs):
            run_id, ended = await handle_of_a_run(runner, runs)
            drained = start_drain(runner, runs, 30, polls=True)  # SIGTERM
            await ended.wait()  # the run finished during the drain; nobody has polled yet
            await anyio.wait_all_tasks_blocked()
            held = not drained.is_set()
            answer = await runner.result(run_id, NoProgress())  # the client's next poll
            await drained.wait()

    assert held, "the only copy of a billed result must not be dropped before its poll comes"
    assert not answer.is_error and SEED_ANSWER in text_of(answer)


async def test_a_poll_waiting_when_the_run_ends_collects_it_and_the_drain_holds_no_longer() -> None:
    answers = []
    with Emulator(code_pause=0.5) as emu, anyio.fail_after(20):  # well within the 27 s a hold would take
        async with runner_on(emu, max_wait=0.01) as (runner, runs):
            run_id, _ = await handle_of_a_run(runner, runs)
            runner.max_wait = 30  # the next poll waits for the end of the run

            async def poll() -> None:
                answers.append(await runner.result(run_id, NoProgress()))

            runs.start_soon(poll)
            await runner.drain(30, polls=True)

    assert len(answers) == 1 and SEED_ANSWER in text_of(answers[0])
    assert runner.handles.uncollected == set()


async def test_a_call_answered_in_full_is_no_handle_and_the_drain_does_not_wait_for_a_poll() -> None:
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):  # max_wait 0: the call waits for the answer
            answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)
            await runner.drain(30, polls=True)

    assert SEED_ANSWER in text_of(answer)
    assert runner.handles.uncollected == set()


@pytest.mark.parametrize("where", ["stdio", "shared store"])
async def test_over_stdio_or_with_a_shared_store_the_drain_does_not_wait_for_a_poll(where: str) -> None:
    # Over stdio no poll can come once the server drains; a shared store holds the result for any replica.
    options = {"run_store": MemoryRunStore()} if where == "shared store" else {}
    with Emulator(code_pause=0.5) as emu, anyio.fail_after(20):  # well within the 27 s a hold would take
        async with runner_on(emu, max_wait=0.01, **options) as (runner, runs):
            await handle_of_a_run(runner, runs)
            if where == "stdio":
                await runner.drain(30)  # as the stdio server calls it
            else:
                await runner.drain(30, polls=True)
            held = set(runner.handles.uncollected)

    assert len(held) == 1  # not collected, and not waited for


async def test_a_handle_nobody_collects_is_given_up_when_the_runs_grace_ends_and_the_log_says_how_to_keep_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_server")
    with Emulator(code_pause=0.2) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=0.01) as (runner, runs):
            run_id, ended = await handle_of_a_run(runner, runs)
            await ended.wait()
            deadline = Deadline(2)  # runs get 1.5 s of it
            await runner.drain(deadline, polls=True)
            left = deadline.runs_left()

    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("waiting up to ") and "1 results answered with a handle" in m for m in messages)
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert warning.getMessage().startswith("1 results answered with a handle were not collected within the grace")
    assert warning.getMessage().endswith(
        "are lost with this process; a shared run store (--run-store redis://...) keeps them for the other replicas"
    )
    assert left == 0  # it waited for the whole of the runs' grace, no longer
    assert run_id in runner.handles.uncollected


async def test_handles_whose_results_expired_are_let_go_as_more_are_issued() -> None:
    now = [1000.0]
    local = MemoryRunStore(ttl=10, max_runs=2, clock=lambda: now[0])
    handles = Handles(local)
    records = [RunRecord(new_run_id(), started_at=0.0) for _ in range(3)]
    for record in records[:2]:
        await local.put(record.advanced(state="finished", finished_at=now[0]))
        await handles.issued(record.run_id)
    now[0] += 11  # both results expired
    await local.put(records[2])  # a run still going
    await handles.issued(records[2].run_id)  # more issued than the store keeps: the gone ones are let go

    assert handles.uncollected == {records[2].run_id}


async def test_a_collected_handle_is_no_longer_waited_for() -> None:
    local = MemoryRunStore()
    handles = Handles(local)
    record = RunRecord(new_run_id(), started_at=0.0)
    await local.put(record.advanced(state="finished", finished_at=record.started_at))
    await handles.issued(record.run_id)
    handles.collected(record.run_id)

    with anyio.fail_after(5):  # a hold would last the runs' 27 s
        await handles.wait(Deadline(30))
    assert handles.uncollected == set()


async def test_the_drain_log_names_the_runs_part_of_the_grace_as_the_longest_wait_for_a_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_server")
    local = MemoryRunStore()
    handles = Handles(local)
    record = RunRecord(new_run_id(), started_at=time.time())
    await local.put(record.advanced(state="finished", finished_at=record.started_at))
    await handles.issued(record.run_id)
    deadline = Deadline(20)  # the runs' part: 17 s; the whole grace: 20 s

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(handles.wait, deadline)
            await anyio.wait_all_tasks_blocked()  # it has said how long it waits, and waits
            handles.collected(record.run_id)

    said = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting up to "))
    assert said.endswith(" s for 1 results answered with a handle to be collected"), said
    assert 16 < float(said.split()[3]) <= deadline.runs_grace == 17, said


class StoreNotWrittenYet(MemoryRunStore):
    """A shared store whose writes wait until released: no record of the run has reached it yet."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()

    async def put(self, record: RunRecord) -> None:
        await self.release.wait()
        await super().put(record)


async def test_a_handle_answered_before_the_shared_store_holds_its_run_says_only_this_server_can_answer() -> None:
    store = StoreNotWrittenYet()
    with Emulator(code_pause=0.3) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=0.01, run_store=store) as (runner, runs):
            answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)
            store.release.set()

    assert answer.structured_content is not None and answer.structured_content["status"] == "running"
    assert "only this server can answer for this run" in text_of(answer)
