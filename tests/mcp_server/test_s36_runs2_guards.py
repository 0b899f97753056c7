"""Guards from the s36 hand sweep of what was left in the runner, ``runs.results`` and ``runs.records``
(issue 26): quiet effects a one-line break would leave unseen - a connection never closed, a secret
partly shown, a text that no longer says what happened.

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import re

import anyio
import pytest

from mcp_server._ops import serving
from mcp_server._requests import current_exchange
from mcp_server.http.cancels import Exchanges
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.memory import MemoryRunStore
from mcp_server.runs.records import RunRecord, new_run_id, shown_url
from mcp_server.runs.results import Results
from qwen_ci_tool import CodeInterpreterResult
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .test_drain_order import NoProgress, runner_on
from .test_tool import text_of

pytestmark = pytest.mark.anyio


class _ClosableStore(MemoryRunStore):
    """A shared store that records whether the server released it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


async def test_closing_the_server_releases_its_shared_run_store() -> None:
    # Break: Runner.aclose's `await self.shared.aclose()` dropped (a replica's Redis connections outlive it).
    store = _ClosableStore()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu, run_store=store) as (runner, runs):
            answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            await runner.drain(30)
            assert not store.closed
    assert store.closed
    assert SEED_ANSWER in text_of(answer)


async def test_a_run_id_pasted_with_spaces_or_a_newline_around_it_still_finds_its_result() -> None:
    # Break: Runner.result's `run_id.strip()` dropped (a handle copied with a trailing newline is "no such run").
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            first = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            run_id = next(iter(runner.local._entries))
            again = await runner.result(f"  {run_id}\n", NoProgress())  # type: ignore[arg-type]
            await runner.drain(30)
    assert not again.is_error
    assert text_of(again) == text_of(first)
    assert SEED_ANSWER in text_of(again)


def test_a_store_url_whose_password_holds_an_at_sign_shows_none_of_the_password() -> None:
    # Break: shown_url's `netloc.rpartition("@")` -> `partition("@")` (the password's tail after its "@" shown).
    shown = shown_url("redis://app:pa@ss-tail@cache.internal:6380/0")
    assert shown == "redis://app:***@cache.internal:6380/0"
    assert "ss-tail" not in shown


class _Recorded:
    """The handler's context, recording the progress messages the runner reports."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.messages.append(message or "")


async def test_a_calls_progress_starts_at_the_first_stage_sent_not_the_starting_state_it_was_created_in() -> None:
    # Break: Runner._await's `after_version < 0` -> `<= 0` (the call's own wait, at version 0, would first
    # report the "starting" it was created in, a notification that says nothing).
    ctx = _Recorded()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            answer = await runner.call(SEED_QUESTION, False, ctx, runs)  # type: ignore[arg-type]
            await runner.drain(30)
    assert SEED_ANSWER in text_of(answer)
    assert ctx.messages[0] == "sending the question to Qwen"
    assert "starting" not in ctx.messages


def test_a_record_whose_skeleton_alone_fills_the_budget_leaves_the_start_of_the_answer_in_the_text() -> None:
    # Break: Results._package's floor `max(..., _MIN_TEXT_CHARS)` dropped (sixty code runs' skeleton is over the
    # 2,000-character cap: the text would keep nothing of the answer, only the notes on what was cut).
    runs = [{"index": i, "code": f"print({i})", "output": str(i)} for i in range(60)]
    result = CodeInterpreterResult.from_dict(
        {"answer": "The answer is " + "x" * 3000, "code_runs": runs, "protocol": "responses", "status": "completed"}
    )
    packed = Results(2000, None).success(result, False)
    assert not packed.is_error
    assert "The answer is xxxx" in text_of(packed)


def test_a_call_the_server_cancelled_says_calling_again_may_work_and_is_billed_again() -> None:
    # Break: Results.cancelled's RETRY_TRANSIENT dropped (the agent is told only that its call was cancelled).
    packed = Results(20_000, None).cancelled("the server is shutting down", None, False)
    assert packed.is_error
    text = text_of(packed)
    assert "call was cancelled: the server is shutting down." in text
    assert "Calling again: may work" in text and "billed again" in text


def test_a_run_id_carries_144_random_bits_so_knowing_it_is_what_lets_a_caller_read_the_run() -> None:
    # Break: new_run_id's `token_urlsafe(18)` -> `(8)` (64 bits: a handle others could guess).
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"run_[A-Za-z0-9_-]{24}", run_id) for run_id in ids)


def test_a_store_url_that_is_not_even_a_url_hides_everything_before_its_last_at_sign() -> None:
    # Break: shown_url's fallback regex `//[^/]*@` -> `//[^/@]*@` (only up to the password's own "@" hidden).
    shown = shown_url("redis://app:pa@ss-tail@[::1:6379/0")
    assert shown == "redis://***@[::1:6379/0"
    assert "ss-tail" not in shown


def test_a_record_written_by_a_newer_replica_with_fields_this_one_does_not_know_is_still_read() -> None:
    # Break: RunRecord.from_json's `if k in names` filter dropped (an unknown field: TypeError on every read).
    record = RunRecord(new_run_id(), started_at=1.5, owner="alice").advanced(stage="running code", message="x")
    assert RunRecord.from_json({**record.to_json(), "priority": 3}) == record


async def test_with_a_shared_store_the_drain_does_not_wait_for_handles_to_be_polled_the_store_keeps_them() -> None:
    # Break: Runner.drain's `elif polls and self.shared is None` -> `elif polls` (every HTTP replica with Redis
    # would hold its shutdown for the whole runs' grace while a handle it answered stays unpolled).
    with Emulator() as emu:
        async with runner_on(emu, run_store=MemoryRunStore()) as (runner, runs):
            with anyio.fail_after(20):
                await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            run_id = next(iter(runner.local._entries))
            runner.handles.uncollected.add(run_id)  # as if answered with its handle and never polled
            with anyio.fail_after(10):
                await runner.drain(60, polls=True)
    assert runner.handles.uncollected == {run_id}


async def test_a_run_is_read_only_by_the_client_that_started_it_another_client_is_told_no_such_run() -> None:
    # Break: Runner._await's `or record.owner != current_client()` dropped (any client holding an id reads the run).
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            with serving("alice", "req-1"):
                first = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            run_id = next(iter(runner.local._entries))
            with serving("bob", "req-2"):
                theirs = await runner.result(run_id, NoProgress())  # type: ignore[arg-type]
            with serving("alice", "req-3"):
                mine = await runner.result(run_id, NoProgress())  # type: ignore[arg-type]
            await runner.drain(30)
    assert theirs.is_error and SEED_ANSWER not in text_of(theirs) and run_id in text_of(theirs)
    assert text_of(mine) == text_of(first)


async def test_the_drain_stops_waiting_for_admitted_calls_to_register_when_the_runs_part_of_the_grace_ends() -> None:
    # Break: Runner.drain's wait for `admitted()` bounded by `deadline.left()` instead of `runs_left()` (a call
    # the gate let in that never registers would eat the reserve kept for delivering final records).
    with Emulator() as emu:
        async with runner_on(emu) as (runner, _runs):
            deadline = Deadline(100)
            deadline.runs_end = anyio.current_time()  # the runs' part is over; 25 % of the grace is left
            with anyio.fail_after(10):
                await runner.drain(deadline, anyio.sleep_forever)
    assert not runner.ready


class _StartedCheck:
    """The handler's context: at each progress report, records whether the gate still counts its call unstarted."""

    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges
        self.unstarted: list[int] = []

    async def report_progress(self, *_: object) -> None:
        self.unstarted.append(len(self.exchanges._unstarted))


async def test_an_admitted_call_counts_as_started_for_the_drain_as_soon_as_its_run_is_registered() -> None:
    # Break: Runner.call's `exchange.start()` dropped (the drain's wait for admitted calls to register would
    # last until each call ENDS, or the runs' grace does, before queued calls are refused).
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            ctx = _StartedCheck(exchanges)
            with exchanges.open("local", 1, admitted=True) as exchange:
                token = current_exchange.set(exchange)
                try:
                    answer = await runner.call(SEED_QUESTION, False, ctx, runs)  # type: ignore[arg-type]
                finally:
                    current_exchange.reset(token)
            await runner.drain(30)
    assert SEED_ANSWER in text_of(answer)
    assert ctx.unstarted and set(ctx.unstarted) == {0}
