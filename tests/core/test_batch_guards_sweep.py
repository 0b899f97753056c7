"""Promises of the batch loops (qwen_ci_tool._batch) and the limiter behind them, each pinned by a test that
fails when its line breaks (found by the mutation sweep); driven directly, without a service."""

from __future__ import annotations

import threading
from typing import Any

from qwen_ci_tool import AdaptiveLimiter
from qwen_ci_tool._batch import BatchPlan, BatchTask, Began, run_many_sync

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
