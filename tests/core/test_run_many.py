"""``run_many`` through both clients against the emulator: one outcome per task, failures as
outcomes, the limiter slowing down under 429s and speeding up after, and early exits."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from qwen_ci_tool import (
    AdaptiveLimiter,
    AsyncCodeInterpreter,
    BadRequestError,
    BatchOutcome,
    BatchTask,
    CodeInterpreter,
    RateLimitError,
)
from qwen_ci_tool._batch import Began, _Inbox, run_many_async
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ._mock import MODES

pytestmark = pytest.mark.usefixtures("no_backoff")


async def collect(
    mode: str,
    emu: Emulator,
    tasks: Any,
    *,
    each: Callable[[BatchOutcome], None] = lambda o: None,
    settings: dict[str, Any] | None = None,
    **kw: Any,
) -> list[BatchOutcome]:
    settings = {"api_key": "sk-test", "base_url": emu.base_url, "max_retries": 0, **(settings or {})}
    out: list[BatchOutcome] = []
    with anyio.fail_after(30):
        if mode == "sync":
            with CodeInterpreter(**settings) as ci:
                for outcome in ci.run_many(tasks, **kw):
                    each(outcome)
                    out.append(outcome)
        else:
            async with AsyncCodeInterpreter(**settings) as aci:
                async for outcome in aci.run_many(tasks, **kw):
                    each(outcome)
                    out.append(outcome)
    return out


@pytest.mark.parametrize("mode", MODES)
async def test_every_task_yields_one_outcome_and_a_failed_task_does_not_end_the_run(mode: str, emu: Emulator) -> None:
    tasks = [{"id": f"t{i}", "question": SEED_QUESTION} for i in range(12)]
    tasks[5]["question"] = f"{SEED_QUESTION} #fault=400"  # refused by the service, every time
    outcomes = await collect(mode, emu, tasks, concurrency=3)
    assert sorted(o.id for o in outcomes) == sorted(t["id"] for t in tasks)
    by_id = {o.id: o for o in outcomes}
    assert by_id["t5"].status == "failed" and isinstance(by_id["t5"].error, BadRequestError)
    assert not by_id["t5"].retryable and by_id["t5"].result is None
    done = [o for o in outcomes if o.id != "t5"]
    assert all(o.status == "completed" and o.result is not None and SEED_ANSWER in o.result.answer for o in done)
    assert len(emu.requests) == 12


@pytest.mark.parametrize("mode", MODES)
async def test_an_incomplete_answer_is_an_incomplete_outcome(mode: str, emu: Emulator) -> None:
    outcomes = await collect(mode, emu, [f"{SEED_QUESTION} #fault=length"])
    assert [(o.id, o.status) for o in outcomes] == [("0", "incomplete")]
    assert outcomes[0].result is not None and outcomes[0].result.finish_reason == "length"


@pytest.mark.parametrize("mode", MODES)
async def test_a_task_without_a_question_fails_before_sending_as_an_outcome(mode: str, emu: Emulator) -> None:
    outcomes = await collect(mode, emu, [{"id": "empty"}, {"id": "ok", "question": SEED_QUESTION}])
    by_id = {o.id: o for o in outcomes}
    assert by_id["empty"].status == "failed" and "question" in str(by_id["empty"].error)
    assert by_id["ok"].status == "completed" and len(emu.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_429s_are_the_limiters_a_refused_task_goes_back_in_the_queue_and_no_call_retries_them(
    mode: str, emu: Emulator
) -> None:
    emu.add_fault(Fault.status(429, retry_after="0"), times=6)
    limiter = AdaptiveLimiter(4)
    outcomes = await collect(mode, emu, [SEED_QUESTION] * 40, limiter=limiter, settings={"max_retries": 2})
    # Every refused task was sent again by the batch: all 40 completed, 46 requests in all, and
    # the limiter saw each 429 (the call's own retries, max_retries=2, left them alone).
    assert [o.status for o in outcomes] == ["completed"] * 40
    assert len(emu.requests) == 46 and limiter.rate_limited == 6


@pytest.mark.parametrize("mode", MODES)
async def test_against_an_evenly_spaced_quota_starts_are_paced_and_each_task_is_admitted_once(mode: str) -> None:
    with Emulator(rate_limit=40.0, call_seconds=0.2) as emu:  # a start every 25 ms at most, calls of 0.2 s
        limiter = AdaptiveLimiter(16)
        outcomes = await collect(mode, emu, [f"{SEED_QUESTION} ({i})" for i in range(40)], limiter=limiter)
        admitted = [r.json["input"]["messages"][-1]["content"] for r in emu.requests]
        throttled = emu.throttled
    assert [o.status for o in outcomes] == ["completed"] * 40
    assert len(admitted) - throttled == 40  # each task admitted once: the rest were refusals
    # Paced below the quota (how close it gets is timing: under CPU contention starts jitter and draw
    # refusals, each a cut; test_pacing checks >= 90% of the quota on a fake clock).
    assert limiter.rate is not None and limiter.rate <= 50.0
    # Fewer refusals than starts (25 of 40 seen under contention; test_pacing bounds the count tightly on a fake clock).
    assert throttled < 40


@pytest.mark.parametrize("mode", MODES)
async def test_a_storm_longer_than_the_requeue_cap_ends_as_retryable_failures(
    mode: str, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwen_ci_tool import _constants

    monkeypatch.setattr(_constants, "BATCH_MAX_REQUEUES", 2)
    emu.add_fault(Fault.status(429, retry_after="0"), times=100)
    outcomes = await collect(mode, emu, ["a", "b"], concurrency=2)
    assert sorted(o.id for o in outcomes) == ["0", "1"]
    assert all(o.status == "failed" and isinstance(o.error, RateLimitError) and o.retryable for o in outcomes)
    assert len(emu.requests) == 6  # each task: 1 + 2 requeues


async def test_leaving_the_async_loop_early_cancels_the_calls_in_flight() -> None:
    with Emulator(pace=0.05) as emu:  # slow streams: the calls are still running at the break
        async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url) as aci:
            with anyio.fail_after(10):
                tasks = [SEED_QUESTION] * 3 + [f"{SEED_QUESTION} #fault=400"]  # started once three stream
                async with contextlib.aclosing(aci.run_many(tasks, concurrency=4)) as outcomes:
                    async for outcome in outcomes:
                        assert outcome.status == "failed"
                        break
            # The three streams in flight are closed; only the refused call's idle keep-alive stays.
            assert emu.wait_for_connections(1, timeout=5)
            assert len(emu.requests) == 4


def leave_at_a_failed_first_outcome(outcomes: Generator[BatchOutcome, None, None], workers_stop_within: float) -> None:
    """Takes the first outcome (a failure), leaves the loop, and checks each batch worker thread ends in time."""
    first = next(outcomes)
    outcomes.close()
    assert first.status == "failed"
    for thread in threading.enumerate():
        if thread.name.startswith("qwen-ci-batch"):
            thread.join(timeout=workers_stop_within)
            assert not thread.is_alive()


def test_leaving_the_sync_loop_early_starts_nothing_new_and_its_workers_stop() -> None:
    with Emulator(pace=0.01) as emu, CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        emu.add_fault(Fault.status(400))
        leave_at_a_failed_first_outcome(ci.run_many([SEED_QUESTION] * 20, concurrency=2), workers_stop_within=10)
        assert len(emu.requests) <= 3  # the failed one, the one in flight, and at most one started after


def test_leaving_the_sync_loop_early_stops_a_call_in_flight_at_its_next_chunk() -> None:
    # Break: run_many_sync's finally without stop.set(): the call in flight reads its stream to the end
    # (its events 1 s apart: half a minute).
    with Emulator(pace=1.0) as emu, CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        emu.add_fault(Fault.finish_reason("stop"))  # the first call: a whole answer, one event a second
        emu.add_fault(Fault.status(400))  # the second, started once the first was admitted: refused at once
        leave_at_a_failed_first_outcome(ci.run_many([SEED_QUESTION] * 2, concurrency=2), workers_stop_within=10)
        assert len(emu.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_tasks_are_read_lazily_from_an_iterator(mode: str, emu: Emulator) -> None:
    pulled: list[int] = []

    def tasks() -> Any:
        for i in range(6):
            pulled.append(i)
            yield SEED_QUESTION

    outcomes = await collect(mode, emu, tasks(), concurrency=2, each=lambda o: pulled.append(-1))
    assert len(outcomes) == 6
    # The first outcome came before the last task was pulled: tasks are not read all at once.
    assert pulled.index(-1) < pulled.index(5)


@pytest.mark.parametrize("mode", MODES)
async def test_without_a_key_every_outcome_is_a_configuration_error_that_says_what_to_do(
    mode: str, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    outcomes = await collect(mode, emu, ["a", "b"], settings={"api_key": None})
    assert [o.status for o in outcomes] == ["failed", "failed"] and emu.requests == []
    for outcome in outcomes:
        error = outcome.to_dict()["error"]
        assert error["type"] == "ConfigurationError" and error["retryable"] is False
        assert error["message"].startswith("No API key. Set DASHSCOPE_API_KEY")


async def test_the_async_loops_inbox_gives_messages_in_order_and_waits_only_when_it_is_empty() -> None:
    inbox = _Inbox()
    first, second = (BatchTask("a", "q"), 1, RuntimeError("a")), (BatchTask("b", "q"), 2, RuntimeError("b"))
    with anyio.fail_after(5):
        inbox.put(first)
        inbox.put(second)
        assert await inbox.get(None) is first and await inbox.get(None) is second
        assert await inbox.get(0.01) is None  # empty: waits at most the timeout
        later = (BatchTask("c", "q"), 3, RuntimeError("c"))

        async def put_later() -> None:
            await anyio.lowlevel.checkpoint()
            inbox.put(later)

        async with anyio.create_task_group() as group:
            group.start_soon(put_later)
            # Messages already taken leave nothing behind: this waits for the next one.
            assert await inbox.get(None) is later


async def test_an_admission_wakes_a_loop_waiting_for_news_but_not_one_waiting_for_its_next_paced_start() -> None:
    inbox = _Inbox()
    message = (BatchTask("a", "q"), 1, RuntimeError("a"))

    async def get(timeout: float | None, got: list[object]) -> None:
        got.append(await inbox.get(timeout))

    with anyio.fail_after(5):
        for timeout, woken in ((None, True), (60.0, False)):
            got: list[object] = []
            async with anyio.create_task_group() as group:
                group.start_soon(get, timeout, got)
                await wait_all_tasks_blocked()
                inbox.nudge()
                await wait_all_tasks_blocked()
                # Waiting only for news: the nudge wakes it (no message). Waiting for a start: still waiting.
                assert got == ([None] if woken else [])
                inbox.put(message)
            assert got[0] is (None if woken else message)
            if woken:
                assert await inbox.get(None) is message


async def test_before_any_rate_limit_a_calls_first_event_lets_the_next_start_while_it_still_runs() -> None:
    second_started = anyio.Event()

    async def call(task: BatchTask, began: Began) -> Any:
        if task.id == "1":
            second_started.set()
        began(lambda: None)  # type: ignore[arg-type,return-value]
        await second_started.wait()  # the first call ends only once the second has started
        raise RuntimeError(task.id)

    with anyio.fail_after(5):
        outcomes = [o async for o in run_many_async(call, ["a", "b"], AdaptiveLimiter(2))]  # type: ignore[arg-type]
    assert sorted(o.id for o in outcomes) == ["0", "1"]
