"""Guards from the mutation sweep of ``mcp_server/runs/runner.py`` and ``progress.py`` (issue 26, round 2).

Each test names the behaviour a one-line break of the runner would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server._requests import current_exchange
from mcp_server._schema import RunPendingModel
from mcp_server._texts import NOT_STARTED_TEXT, SHUTTING_DOWN_TEXT, STOPPED_WAITING_TEXT, store_unavailable_text
from mcp_server.http.cancels import Exchanges
from mcp_server.runs import MemoryRunStore, RunRecord, StoreUnavailable, new_run_id
from mcp_server.runs import runner as runner_module
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.runner import Runner
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_drain_order import NoProgress, calls_in_turn, runner_on
from .test_runs import pending_of, replicas
from .test_tool import Progress, text_of

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def a_stalled_run_handed_off() -> AsyncIterator[tuple[Emulator, Client, RunPendingModel]]:
    """A client of a server holding a call 0.05 s, and the handle it answered one with, its stream stalled 30 s
    after "thinking"; the call and the block within 10 s."""
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(10):
                yield emu, client, pending_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))


@asynccontextmanager
async def a_stalled_runner(**options: Any) -> AsyncIterator[tuple[Emulator, Runner, anyio.abc.TaskGroup]]:
    """``runner_on`` an emulator whose streams stall 30 s after "thinking", all within 20 s."""
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with runner_on(emu, **options) as (runner, runs):
            yield emu, runner, runs


async def test_a_call_that_waited_for_a_slot_and_got_one_before_the_drain_is_let_finish_not_refused() -> None:
    # Break: Runner.drain refusing every run that was ever queued (`run.queued` alone, not `and not
    # run.started`) -> the second call, already sent upstream (billed), is cut and told it never started.
    with Emulator(code_pause=0.3) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_concurrency=1) as (runner, runs):
            answers = await calls_in_turn(runner, runs, False, "first", "second")
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
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with replicas(emu, max_wait=20) as (a, b, poller):
            runner = server_runtime(poller)
            assert isinstance(runner, Runner)
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
    async with a_stalled_runner(max_wait=0.05) as (emu, runner, runs):
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

    assert pending_of(first).elapsed_seconds == 12.3 and pending_of(first).stage == "running code #1"
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
    async with a_stalled_runner(max_wait=0.01, run_store=FailingStore(hang=True)) as (_, runner, runs):
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


async def test_a_call_its_client_gives_up_on_while_queued_for_a_slot_ends_as_cancelled_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Break: _LiveRun starting with a partial that is not None ("") -> the cancelled call, which never
    # got a partial, is counted and answered from it, raises, and takes the server's runs down.
    caplog.set_level(logging.INFO, logger="mcp_server")
    results: list[CallToolResult] = []
    with Emulator(code_pause=0.5) as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_concurrency=1)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                first, second = Progress(), Progress()
                async with anyio.create_task_group() as tg:

                    async def ask(progress: Progress) -> None:
                        results.append(
                            await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress)
                        )

                    tg.start_soon(ask, first)
                    await first.seen("thinking").wait()
                    async with anyio.create_task_group() as queued:
                        queued.start_soon(ask, second)
                        await second.seen("waiting for a free slot").wait()
                        queued.cancel_scope.cancel()  # the client gives up on the queued call
                results.append(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))

    assert len(results) == 2 and all(SEED_ANSWER in text_of(r) for r in results)
    outcomes = [getattr(r, "outcome", None) for r in caplog.records]
    assert outcomes.count("cancelled") == 1 and outcomes.count("completed") == 2
    assert len(emu.requests) == 2  # the queued call was never sent


async def test_each_calls_summary_line_carries_its_run_id_and_a_run_the_server_stopped_says_so_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Breaks: Runner._run_to_end tracking the call without its run id (the summary line's run_id);
    # the log line of a run cancelled when the server stops without a drain (its tool name, wording, reason).
    caplog.set_level(logging.INFO, logger="mcp_server")
    async with a_stalled_run_handed_off() as (_, _, handle):
        pass
    # The client is gone and the server with it: its run is cut without a drain.

    summary = next(r for r in caplog.records if getattr(r, "outcome", None) is not None)
    assert summary.run_id == handle.run_id  # type: ignore[attr-defined]
    assert f"{TOOL_NAME} cancelled: the server stopped" in [r.getMessage() for r in caplog.records]


async def test_a_poll_through_the_shared_store_reports_the_runs_end_as_done() -> None:
    # Breaks: the final record's stage or message not "done" (the poll's last progress report is it).
    with Emulator(code_pause=0.3) as emu:
        async with replicas(emu, max_wait=20, heartbeat_interval=60) as (a, b, _):
            with anyio.fail_after(20):
                handle = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                progress = Progress()
                answer = await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=progress)

    assert SEED_ANSWER in text_of(answer)
    assert progress.messages[-1] == "done"


async def test_a_wait_that_ends_before_a_heartbeat_is_due_sends_none_and_each_heartbeat_says_still_working_once() -> (
    None
):
    # Breaks: Progress.beat_if_due beating whenever asked (`now + last`), so a wait that ends at its
    # max_wait beats although nothing was due; a heartbeat reported as a stage (its message nested in
    # the next one: "thinking (still working, ...) (still working, ...)").
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        quiet = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_wait=0.3, heartbeat_interval=60)
        async with Client(quiet, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                first = Progress()
                handle = pending_of(
                    await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=first)
                )
                while handle.stage != "thinking":
                    handle = pending_of(await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}))
                again = Progress()
                await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=again)
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        beating = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_wait=1.0, heartbeat_interval=0.05)
        async with Client(beating, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                beats = Progress()
                await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=beats)

    assert not any("still working" in m for m in first.messages)
    assert again.messages == ["thinking"]  # where the run is, then nothing until the wait ended
    heartbeats = [m for m in beats.messages if "still working" in m]
    assert len(heartbeats) >= 2
    # each heartbeat names the stage it found (under load the first may come before "thinking") once
    assert all(re.fullmatch(r"[^()]+ \(still working, \d+ s elapsed\)", m) for m in heartbeats), heartbeats


async def test_a_call_let_in_before_sigterm_that_finds_every_slot_taken_once_its_handler_runs_is_refused_unsent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Breaks: Runner._run's refusal of a call accepted just before the drain began that would have to
    # wait for a slot: its error (counted as ShuttingDown), its text, is_error.
    caplog.set_level(logging.INFO, logger="mcp_server")
    exchanges = Exchanges()
    answers: dict[str, CallToolResult] = {}
    async with a_stalled_runner(max_concurrency=1) as (emu, runner, runs):

        async def running() -> None:
            answers["running"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

        runs.start_soon(running)
        await anyio.wait_all_tasks_blocked()
        (run,) = runner.live.values()
        while run.record.stage != "thinking":  # its request is with the service
            await runner.local.wait(run.record.run_id, run.record.version, 5)
        with exchanges.open("client", 2, admitted=True) as exchange:  # the gate let it in...
            runs.start_soon(runner.drain, Deadline(30), exchanges.admitted_started)  # ...then SIGTERM...
            await anyio.wait_all_tasks_blocked()
            current_exchange.set(exchange)  # ...then its handler runs, with the one slot taken
            answers["late"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
        runs.cancel_scope.cancel()

    late = answers["late"]
    assert late.is_error and text_of(late) == NOT_STARTED_TEXT
    assert errors_logged(caplog) == ["ShuttingDown"]
    assert len(emu.requests) == 1


async def test_a_poll_through_the_shared_store_of_a_run_waiting_for_a_slot_says_how_many_calls_may_run() -> None:
    # Break: Runner._stage keeping the stage instead of its message in the record (`message and stage`)
    # -> another replica's poll reports "waiting for a free slot" without the limit that explains it.
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with replicas(emu, starter={"max_concurrency": 1}, max_wait=0.05, heartbeat_interval=60) as (a, b, _):
            with anyio.fail_after(20):
                pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                queued = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                progress = Progress()
                again = await b.call_tool(RESULT_TOOL_NAME, {"run_id": queued.run_id}, progress_callback=progress)

    assert pending_of(again).stage == "waiting for a free slot"
    assert progress.messages == ["waiting for a free slot (at most 1 concurrent calls)"]


async def test_a_poll_on_the_same_server_of_a_run_waiting_for_a_slot_starts_with_where_it_is_and_why() -> None:
    # Breaks: Runner._await's first report of a local run without its message or its stage (the slot
    # limit lost; a heartbeat would then say "None (still working").
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(
            api_key=PLANTED_KEY, base_url=emu.base_url, max_wait=0.3, max_concurrency=1, heartbeat_interval=0.05
        )
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                pending_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                queued = pending_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                progress = Progress()
                await client.call_tool(RESULT_TOOL_NAME, {"run_id": queued.run_id}, progress_callback=progress)

    first, *beats = progress.messages
    assert first == "waiting for a free slot (at most 1 concurrent calls)"
    assert beats and all(m.startswith("waiting for a free slot (still working,") for m in beats), beats


async def test_a_call_that_reaches_a_draining_server_in_process_is_refused_unsent_as_shutting_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Breaks: Runner.call taking any call as admitted while the drain has not ended (`or` for `and`);
    # the refusal's error (counted as ShuttingDown), its text, is_error.
    caplog.set_level(logging.INFO, logger="mcp_server")
    async with a_stalled_runner() as (emu, runner, runs):
        runs.start_soon(runner.call, SEED_QUESTION, False, NoProgress(), runs)
        await anyio.wait_all_tasks_blocked()
        (run,) = runner.live.values()
        while run.record.stage != "thinking":  # its request is with the service
            await runner.local.wait(run.record.run_id, run.record.version, 5)
        runs.start_soon(runner.drain, Deadline(30))  # a run still going: the drain goes on
        await anyio.wait_all_tasks_blocked()
        refused = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
        runs.cancel_scope.cancel()

    assert refused.is_error and text_of(refused) == SHUTTING_DOWN_TEXT
    assert errors_logged(caplog) == ["ShuttingDown"]
    assert len(emu.requests) == 1


async def test_a_call_without_a_key_logs_a_warning_naming_the_tool_and_the_variable(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Breaks: the warning's tool name or variable name left out.
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with Emulator() as emu:
        server = create_server(base_url=emu.base_url)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(10):
                result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert result.is_error
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{TOOL_NAME} called but DASHSCOPE_API_KEY is not set" in warnings
    assert errors_logged(caplog) == ["ConfigurationError"]  # counted as refused for it


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The error of each call summary line that says the call failed."""
    return [getattr(r, "error", "") for r in caplog.records if getattr(r, "outcome", None) == "failed"]


async def test_a_call_beyond_the_runs_in_progress_is_counted_as_refused_for_too_many_runs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break: the refusal's error label (TooManyRuns) changed or left out.
    monkeypatch.setattr(runner_module, "MAX_LIVE_RUNS", 1)
    caplog.set_level(logging.INFO, logger="mcp_server")
    async with a_stalled_runner(max_wait=0.05) as (_, runner, runs):
        await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
        refused = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
        runs.cancel_scope.cancel()

    assert refused.is_error
    assert errors_logged(caplog) == ["TooManyRuns"]


async def test_a_call_whose_http_exchange_is_aborted_is_answered_cancelled_with_the_reason_and_its_run_cut(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Breaks: Runner.call not waiting under its exchange's guard (an abort would not end the call:
    # a legacy client's cancel lost); the run cancelled without the abort's reason; the answer's text
    # or is_error; a wrong assertion on the way out; a second abort overwriting the first's reason.
    caplog.set_level(logging.INFO, logger="mcp_server")
    exchanges = Exchanges()
    answers: list[CallToolResult] = []
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with runner_on(emu) as (runner, runs):
            with exchanges.open("client", 1) as exchange:

                async def ask() -> None:
                    current_exchange.set(exchange)
                    answers.append(await runner.call(SEED_QUESTION, False, NoProgress(), runs))  # type: ignore[arg-type]

                async with anyio.create_task_group() as tg:
                    tg.start_soon(ask)
                    await anyio.wait_all_tasks_blocked()
                    (run,) = runner.live.values()
                    while run.record.stage != "thinking":
                        await runner.local.wait(run.record.run_id, run.record.version, 5)
                    exchange.abort("the client sent notifications/cancelled")
                    exchange.abort("the client disconnected")  # a legacy client's cancel, then its hang-up
            await run.finished.wait()
        closed = await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 5.0)

    # answered and logged for the first reason (keep-first), not the disconnect that followed
    assert answers[0].is_error and text_of(answers[0]) == "Cancelled: the client sent notifications/cancelled."
    assert f"{TOOL_NAME} cancelled: the client sent notifications/cancelled" in caplog.text
    assert "disconnected" not in caplog.text
    assert closed, "the upstream request is closed when the call is cancelled"


async def test_a_handle_issued_logs_its_run_id(caplog: pytest.LogCaptureFixture) -> None:
    # Break: the handle's log line without its run id.
    caplog.set_level(logging.INFO, logger="mcp_server")
    async with a_stalled_run_handed_off() as (_, _, handle):
        pass

    issued = next(r for r in caplog.records if r.getMessage().startswith("run handle "))
    assert issued.getMessage().startswith(f"run handle {handle.run_id} issued")
    assert getattr(issued, "run_id", None) == handle.run_id


async def test_a_call_its_client_cancels_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    # Break: the reason of a client's cancel without an HTTP exchange (its wording). The server holds
    # every call to its end (max_wait=0), so the cancel cannot race a handle however slow the machine.
    caplog.set_level(logging.INFO, logger="mcp_server")
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0)
        async with Client(server, raise_exceptions=True) as client:
            progress = Progress()
            async with anyio.create_task_group() as tg:  # a call given up on while it runs
                tg.start_soon(
                    lambda: client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress)
                )
                await progress.seen("thinking").wait()
                tg.cancel_scope.cancel()
            while "cancelled: the client" not in caplog.text:
                await anyio.wait_all_tasks_blocked()
                await anyio.sleep(0)

    assert f"{TOOL_NAME} cancelled: the client cancelled the call" in caplog.text


async def test_a_poll_when_the_shared_store_cannot_be_read_says_so_naming_the_run_and_counts_a_read_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Breaks: Runner._await's failed first read: its operation label, its exception, its text, is_error.
    class UnreadableStore(MemoryRunStore):
        async def get(self, run_id: str) -> RunRecord | None:
            raise StoreUnavailable("planted read failure")

    caplog.set_level(logging.INFO, logger="mcp_server")
    server = create_server(api_key=PLANTED_KEY, run_store=UnreadableStore(), max_wait=0.05)
    runner = server_runtime(server)
    assert isinstance(runner, Runner)
    async with Client(server, raise_exceptions=True) as client:
        with anyio.fail_after(10):
            answer = await client.call_tool(RESULT_TOOL_NAME, {"run_id": "run_elsewhere"})
    metrics = runner.ops.metrics.exposition().decode()

    assert answer.is_error and text_of(answer) == store_unavailable_text("run_elsewhere")
    assert "run store unavailable (read): planted read failure; runs go on in this process" in caplog.text
    assert 'qwen_ci_run_store_errors_total{operation="read"} 1.0' in metrics
