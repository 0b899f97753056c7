"""Guards from the mutation sweep of ``mcp_server/runs/runner.py`` and ``progress.py`` (issue 26, round 2).

Each test names the behaviour a one-line break of the runner would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server._requests import current_exchange
from mcp_server._texts import SHUTTING_DOWN_TEXT, STOPPED_WAITING_TEXT
from mcp_server.http.cancels import Exchanges
from mcp_server.runs import MemoryRunStore, RunRecord, StoreUnavailable, new_run_id
from mcp_server.runs import runner as runner_module
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.runner import Runner
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_drain_order import NoProgress, runner_on
from .test_runs import pending_of
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def test_a_call_that_waited_for_a_slot_and_got_one_before_the_drain_is_let_finish_not_refused() -> None:
    # Break: Runner.drain refusing every run that was ever queued (`run.queued` alone, not `and not
    # run.started`) -> the second call, already sent upstream (billed), is cut and told it never started.
    answers: dict[str, CallToolResult] = {}
    with Emulator(code_pause=0.3) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_concurrency=1) as (runner, runs):

            async def ask(name: str) -> None:
                answers[name] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

            runs.start_soon(ask, "first")
            await anyio.wait_all_tasks_blocked()
            runs.start_soon(ask, "second")
            await anyio.wait_all_tasks_blocked()
            (second,) = [run for run in runner.live.values() if run.queued]
            while not second.started:  # the first call ended and gave the second its slot
                await runner.local.wait(second.record.run_id, second.record.version, 5)
            await runner.drain(Deadline(10))

    assert not answers["first"].is_error
    assert not answers["second"].is_error, text_of(answers["second"])
    assert SEED_ANSWER in text_of(answers["second"])
    assert len(emu.requests) == 2


async def test_a_call_the_gate_let_in_whose_handler_runs_after_the_drain_ended_is_refused_unsent() -> None:
    # Break: Runner.call taking an admitted exchange as served whatever the drain did (dropping `and not
    # self._drained.is_set()`) -> a run starts in a server that has drained: nobody waits for it.
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            await runner.drain(Deadline(1))
            with exchanges.open("client", 1, admitted=True) as exchange:
                token = current_exchange.set(exchange)
                try:
                    result = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
                finally:
                    current_exchange.reset(token)

    assert result.is_error and text_of(result) == SHUTTING_DOWN_TEXT
    assert len(emu.requests) == 0


async def test_a_poll_for_another_replicas_run_ends_with_the_handle_as_soon_as_this_server_has_drained() -> None:
    # Break: Runner._await not ending store waits on the drain (no `_end_on_drained` task) -> the poll
    # holds the draining server for its whole max_wait (20 s here) though this server can only exit.
    shared = MemoryRunStore()
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        settings = {"api_key": PLANTED_KEY, "base_url": emu.base_url, "max_retries": 0, "run_store": shared}
        starter = create_server(**settings, max_wait=0.05)
        poller = create_server(**settings, max_wait=20)
        runner = server_runtime(poller)
        assert isinstance(runner, Runner)
        async with Client(starter, raise_exceptions=True) as a, Client(poller, raise_exceptions=True) as b:
            with anyio.fail_after(10):
                handle = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                answers: list[CallToolResult] = []
                async with anyio.create_task_group() as tg:

                    async def poll() -> None:
                        answers.append(await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}))

                    tg.start_soon(poll)
                    await anyio.wait_all_tasks_blocked()
                    await runner.drain(Deadline(1))

    assert pending_of(answers[0]).run_id == handle.run_id


async def test_a_result_wait_whose_http_exchange_is_aborted_stops_at_once_says_so_and_leaves_the_run_going() -> None:
    # Breaks: Runner.result not reading the request's exchange, or not waiting under its guard (the
    # abort would not end the wait: it holds on for max_wait); the text or is_error of its answer.
    exchanges = Exchanges()
    answers: list[CallToolResult] = []
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with runner_on(emu, max_wait=0.05) as (runner, runs):
            handle = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            run_id = pending_of(handle).run_id
            runner.max_wait = 30  # the poll would wait well past the test's bound

            with exchanges.open("client", 2) as exchange:

                async def poll() -> None:
                    current_exchange.set(exchange)  # this task's own context: the HTTP request it serves
                    answers.append(await runner.result(run_id, NoProgress()))  # type: ignore[arg-type]

                async with anyio.create_task_group() as tg:
                    tg.start_soon(poll)
                    await anyio.wait_all_tasks_blocked()
                    exchange.abort("the client cancelled the request")
            going = run_id in runner.live and emu.active_connections == 1
            runs.cancel_scope.cancel()

    assert answers[0].is_error and text_of(answers[0]) == STOPPED_WAITING_TEXT
    assert going, "giving up on a result wait leaves the run going"


async def test_a_handle_says_how_long_its_run_has_gone_in_tenths_of_a_second_and_never_less_than_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Breaks: Runner._pending's elapsed time at least 1 s, or counted with `+` (clock + start), or
    # rounded to whole seconds. The other replica's clock may be ahead of this one's: never negative.
    now = 1_800_000_000.0
    monkeypatch.setattr(runner_module, "time", SimpleNamespace(time=lambda: now))
    shared = MemoryRunStore()
    older = RunRecord(new_run_id(), started_at=now - 12.34, stage="running code #1")
    ahead = RunRecord(new_run_id(), started_at=now + 5, stage="thinking")
    for record in (older, ahead):
        await shared.put(record)
    with Emulator() as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, run_store=shared, max_wait=0.05)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(10):
                first = await client.call_tool(RESULT_TOOL_NAME, {"run_id": older.run_id})
                second = await client.call_tool(RESULT_TOOL_NAME, {"run_id": ahead.run_id})

    assert pending_of(first).elapsed_seconds == 12.3
    assert "(12 s so far; now: running code #1)" in text_of(first)
    assert pending_of(second).elapsed_seconds == 0.0
    assert "(0 s so far; now: thinking)" in text_of(second)


class FailingStore(MemoryRunStore):
    """A shared store whose writes fail (raise, or hang when *hang*); reads and cancels work."""

    def __init__(self, *, hang: bool = False) -> None:
        super().__init__()
        self.hang = hang

    async def put(self, record: RunRecord) -> None:
        if self.hang:
            await anyio.sleep_forever()
        raise StoreUnavailable("planted write failure")


@pytest.mark.parametrize("hang", [False, True])
async def test_a_failed_or_hung_write_to_the_shared_store_is_logged_and_counted_as_a_write_and_the_call_answered(
    hang: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Breaks: Runner._write_shared passing the failure to the link without its operation, its
    # exception or the right label; a hung write not bounded (the run never ends here) or its reason.
    monkeypatch.setattr(runner_module, "_STORE_WRITE_TIMEOUT", 0.1)
    caplog.set_level(logging.INFO, logger="mcp_server")
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu, run_store=FailingStore(hang=hang)) as (runner, runs):
            answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            while runner.live:  # the run ends here once its writer has given up on the final record
                await anyio.wait_all_tasks_blocked()
                await anyio.sleep(0)
            metrics = runner.ops.metrics.exposition().decode()

    assert SEED_ANSWER in text_of(answer)
    reason = "no answer within 0.1 s" if hang else "planted write failure"
    assert f"run store unavailable (write): {reason}; runs go on in this process" in caplog.text
    assert 'qwen_ci_run_store_errors_total{operation="write"}' in metrics
    assert "qwen_ci_run_store_up 0.0" in metrics


async def test_a_drain_gives_the_gates_admitted_calls_only_the_runs_grace_to_register() -> None:
    # Break: Runner.drain waiting for the admitted calls without a bound -> a call the gate let in
    # whose handler never comes holds the shutdown past its grace.
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(10):
        async with runner_on(emu) as (runner, _):
            with exchanges.open("client", 1, admitted=True):  # its handler never registers a run
                await runner.drain(Deadline(1), admitted=exchanges.admitted_started)
                returned = True

    assert returned


async def test_a_drain_whose_run_cannot_deliver_its_final_record_ends_with_the_grace_and_says_how_many_were_lost(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Breaks: Runner.drain's last wait not bounded by the grace (it waits for the hung store write),
    # and each part of its warning (the count, the grace).
    monkeypatch.setattr(runner_module, "_STORE_WRITE_TIMEOUT", 5)
    caplog.set_level(logging.INFO, logger="mcp_server")
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with runner_on(emu, max_wait=0.01, run_store=FailingStore(hang=True)) as (runner, runs):
            await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            await runner.drain(Deadline(1))
            left = len(runner.live)
            runs.cancel_scope.cancel()

    assert left == 1
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert warning.getMessage() == "1 runs not delivered by the end of the 1 s grace; exiting anyway"


async def test_a_cancel_forwarded_by_this_replica_goes_to_the_store_and_one_from_another_reaches_the_callback() -> None:
    # Breaks: Runner.forward_cancel / listen_for_cancels passing the client, the request id or the
    # callback on wrongly (they are reached in process only here; the replica tests run subprocesses).
    class CancelStore(MemoryRunStore):
        def __init__(self) -> None:
            super().__init__()
            self.published: list[tuple[str, str]] = []

        async def publish_cancel(self, principal: str, request_id: str) -> None:
            self.published.append((principal, request_id))

        async def cancels(self, on_listening: Callable[[], None]) -> AsyncIterator[tuple[str, str]]:
            on_listening()
            yield "principal-b", "7"
            await anyio.sleep_forever()

    store = CancelStore()
    heard: list[tuple[str, str]] = []
    runner = server_runtime(create_server(api_key=PLANTED_KEY, run_store=store))
    assert isinstance(runner, Runner)
    await runner.forward_cancel("principal-a", "3")
    with anyio.move_on_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.listen_for_cancels, lambda p, r: (heard.append((p, r)), tg.cancel_scope.cancel()))
    await runner.aclose()

    assert store.published == [("principal-a", "3")]
    assert heard == [("principal-b", "7")]
