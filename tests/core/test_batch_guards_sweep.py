"""Promises of the batch loops (qwen_ci_tool._batch) and the limiter behind them, each pinned by a test that
fails when its line breaks (found by the mutation sweep); driven directly, without a service."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from qwen_ci_tool import AdaptiveLimiter, InternalServerError
from qwen_ci_tool._batch import BatchPlan, BatchTask, Began, run_many_async, run_many_sync
from qwen_ci_tool._limiter import BACKOFF

from .test_limiter import start_all


def test_in_a_sync_batch_a_calls_first_event_lets_the_next_start_while_it_still_runs() -> None:
    second_started = threading.Event()
    waited: list[bool] = []

    def call(task: BatchTask, stop: threading.Event, began: Began) -> Any:
        if task.id == "1":
            second_started.set()
        began(lambda: None)  # type: ignore[arg-type,return-value]
        # The first call ends only once the second has started (bounded: a lost admission fails below).
        waited.append(second_started.wait(timeout=10))
        raise RuntimeError(task.id)

    outcomes = list(run_many_sync(call, ["a", "b"], AdaptiveLimiter(2)))  # type: ignore[arg-type]
    assert sorted(o.id for o in outcomes) == ["0", "1"] and waited == [True, True]


def test_a_sync_batch_runs_its_calls_on_at_most_concurrency_threads_named_for_it() -> None:
    names: list[str] = []

    def call(task: BatchTask, stop: threading.Event, began: Began) -> Any:
        names.append(threading.current_thread().name)
        began(lambda: None)  # type: ignore[arg-type,return-value]
        raise RuntimeError(task.id)

    outcomes = list(run_many_sync(call, [f"q{i}" for i in range(40)], AdaptiveLimiter(2)))  # type: ignore[arg-type]
    assert len(outcomes) == 40
    # The name is how a thread dump (and test_run_many's check that the workers stop) finds them.
    assert all(name.startswith("qwen-ci-batch") for name in names)
    assert len(set(names)) <= 2


def test_an_interrupted_line_has_the_task_id_the_partials_request_id_and_says_a_rerun_sends_it_again() -> None:
    plan = BatchPlan(["a", "b"], AdaptiveLimiter(8))
    start_all(plan, 1)  # task "0" began: its partial has request id rid-0
    assert isinstance(plan.next(0.0), tuple)  # task "1" started, nothing received yet
    lines = {o.id: o.to_dict() for o in plan.interrupted()}
    begun, silent = lines["0"], lines["1"]
    assert begun["id"] == "0" and begun["error"]["request_id"] == "rid-0" and begun["result"]["request_id"] == "rid-0"
    assert begun["error"]["message"].startswith("The batch stopped while this call ran; running it again sends")
    assert silent["id"] == "1" and silent["error"]["request_id"] is None


def test_a_task_that_failed_for_another_reason_neither_pauses_the_batch_nor_counts_as_rate_limited() -> None:
    plan = BatchPlan(["a", "b"], AdaptiveLimiter(8))
    (task, ticket), _ = start_all(plan, 2)
    outcome = plan.settle(task, ticket, InternalServerError("busy", status_code=503), 0.1)
    assert outcome is not None and outcome.status == "failed"
    assert plan.limiter.rate_limited == 0 and plan.limiter.rate is None and plan.limiter.delay(0.1) == 0.0


def test_a_task_of_another_type_is_refused_saying_what_a_task_may_be() -> None:
    with pytest.raises(
        TypeError, match=r"task #3 is a int; give a question string, a BatchTask or a dict with 'id' and"
    ):
        BatchTask.of(7, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"with 'id' and 'question' \(or 'messages'\)$"):
        BatchTask.of(7, 3)  # type: ignore[arg-type]


def _paced(rate: float, concurrency: int) -> AdaptiveLimiter:
    """A limiter that already paces starts at ``rate`` (learnt long ago on the monotonic clock)."""
    limiter = AdaptiveLimiter(concurrency)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=BACKOFF / rate)
    limiter.finish(limiter.start(1.0), 1.0, "ok")
    assert limiter.rate == pytest.approx(rate)
    return limiter


def test_a_sync_batch_makes_its_paced_starts_while_every_call_in_flight_is_still_running() -> None:
    # Starts 20 ms apart; each call ends only once all three have started: a loop that waited for a
    # call to end instead of for its next start would never start the second.
    all_started = threading.Barrier(3)
    waited: list[bool] = []

    def call(task: BatchTask, stop: threading.Event, began: Began) -> Any:
        try:
            all_started.wait(timeout=10)
            waited.append(True)
        except threading.BrokenBarrierError:
            waited.append(False)
        raise RuntimeError(task.id)

    outcomes = list(run_many_sync(call, ["a", "b", "c"], _paced(50.0, 8)))  # type: ignore[arg-type]
    assert len(outcomes) == 3 and waited == [True, True, True]


async def test_an_async_batch_makes_its_paced_starts_while_every_call_in_flight_is_still_running() -> None:
    started: list[str] = []
    all_started = anyio.Event()

    async def call(task: BatchTask, began: Began) -> Any:
        started.append(task.id)
        if len(started) == 3:
            all_started.set()
        with anyio.move_on_after(10):
            await all_started.wait()
        raise RuntimeError(task.id)

    with anyio.fail_after(30):
        outcomes = [o async for o in run_many_async(call, ["a", "b", "c"], _paced(50.0, 8))]  # type: ignore[arg-type]
    assert len(outcomes) == 3 and all_started.is_set()


def test_leaving_a_sync_batch_early_does_not_wait_for_the_calls_in_flight_to_end() -> None:
    # A sync read cannot be cancelled: a call stops at its next chunk, which may be long in coming.
    release = threading.Event()
    waited: list[bool] = []

    second_started = threading.Event()

    def call(task: BatchTask, stop: threading.Event, began: Began) -> Any:
        if task.id == "0":
            began(lambda: None)  # type: ignore[arg-type,return-value]
            second_started.wait(timeout=10)  # ends once the second call is in flight
            raise RuntimeError("first")
        second_started.set()
        waited.append(release.wait(timeout=10))  # a slow chunk: ignores the stop until released
        raise RuntimeError(task.id)

    outcomes = run_many_sync(call, ["a", "b", "c"], AdaptiveLimiter(2))  # type: ignore[arg-type]
    assert next(outcomes).id == "0"
    assert second_started.is_set()
    outcomes.close()  # returns at once, the second call still in its chunk
    assert waited == []
    release.set()
