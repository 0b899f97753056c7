"""Quiet promises of the core (session 36's hand sweep): tables keyed by a ticket or a call that must be
emptied, clamps, falsy-vs-absent fields; each test fails with the one-line break named in its docstring."""

from __future__ import annotations

import contextlib
import dataclasses
import io

import anyio

from qwen_ci_tool import AdaptiveLimiter, CodeInterpreterResult, InternalServerError, RateLimitError
from qwen_ci_tool._batch import BatchOutcome, BatchPlan, BatchTask, Began, run_many_async
from qwen_ci_tool._constants import MAX_RETRY_AFTER
from qwen_ci_tool._limiter import PROBE_ADMISSIONS
from qwen_ci_tool._telemetry import _result_attributes, output_messages
from qwen_ci_tool._types import CodeRun, Step, Timings, Usage


def test_a_call_that_failed_leaves_no_bunch_behind_in_the_limiter() -> None:
    """_limiter.finish: `self._bunch_of.pop(ticket, None)` for a failure dropped (the table grows per failure)."""
    limiter = AdaptiveLimiter(4)
    tickets = [limiter.start(0.0) for _ in range(3)]
    for ticket in tickets:
        limiter.finish(ticket, 0.1, "failed")
    assert limiter._bunch_of == {}
    assert limiter.in_flight == 0


def test_the_limiter_keeps_a_bounded_record_of_admissions_however_long_the_batch() -> None:
    """_limiter: `deque(maxlen=4096)` -> `deque()` (every admission of a long batch kept in memory)."""
    limiter = AdaptiveLimiter(1)
    for n in range(5000):
        limiter.admitted(limiter.start(float(n)), n + 0.5)
        limiter.finish(n + 1, n + 0.9, "ok")
    assert len(limiter._admissions) == 4096
    assert limiter._bunch_of == {} and not limiter._awaiting


def test_a_settled_call_is_forgotten_by_the_plan_and_never_reported_as_interrupted() -> None:
    """_batch.BatchPlan.settle: `self._running.pop(ticket, None)` dropped (every finished call kept, and a later
    stop reports it as interrupted)."""
    plan = BatchPlan(["a", "b"], AdaptiveLimiter(2))
    for _ in range(2):
        step = plan.next(0.0)
        assert isinstance(step, tuple)
        plan.settle(step[0], step[1], InternalServerError("boom", status_code=500), 0.1)
    assert plan.next(0.2) is BatchPlan.DONE
    assert plan._running == {}
    assert plan.interrupted() == []


def test_a_call_in_flight_is_reported_interrupted_once_however_often_the_plan_is_asked() -> None:
    """_batch.BatchPlan.interrupted: `self._running.clear()` dropped (a second stop reports the same call again)."""
    plan = BatchPlan(["a"], AdaptiveLimiter(1))
    assert isinstance(plan.next(0.0), tuple)
    assert [o.id for o in plan.interrupted()] == ["0"]
    assert plan.interrupted() == [] and plan._running == {}


def _partial() -> CodeInterpreterResult:
    return CodeInterpreterResult(
        answer="half",
        reasoning="",
        code_runs=(),
        steps=(),
        usage=Usage(input_tokens=5, output_tokens=3, total_tokens=8),
        request_id="req-1",
        model="qwen3-max",
        protocol="responses",
        finish_reason=None,
        status="incomplete",
    )


def test_a_rate_limit_after_the_answer_began_is_an_outcome_with_its_partial_not_sent_again() -> None:
    """_batch.BatchPlan.settle: `value.partial is None and` dropped (a task billed for a partial answer is
    silently queued again)."""
    plan = BatchPlan(["a"], AdaptiveLimiter(1))
    step = plan.next(0.0)
    assert isinstance(step, tuple)
    err = RateLimitError("throttled mid-stream", status_code=429, partial=_partial())
    outcome = plan.settle(step[0], step[1], err, 0.1)
    assert outcome is not None and outcome.status == "failed" and outcome.usage_result is err.partial
    assert plan.next(5.0) is BatchPlan.DONE


def test_a_dict_task_with_id_zero_keeps_its_id() -> None:
    """_batch.BatchTask.of: `item.get("id", index)` -> `item.get("id") or index` (id 0 replaced by the position)."""
    assert BatchTask.of({"id": 0, "question": "q"}, 5).id == "0"


async def test_an_async_batch_left_early_reports_each_call_still_in_flight_to_on_stop() -> None:
    """_batch.run_many_async: `_report_stopped(plan, on_stop)` dropped (qwen-ci batch loses the interrupted lines)."""
    second_started = anyio.Event()
    stopped: list[BatchOutcome] = []

    async def call(task: BatchTask, began: Began) -> CodeInterpreterResult:
        began(_partial)
        if task.id == "0":
            await second_started.wait()
            return _partial()
        second_started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    with anyio.fail_after(10):
        batch = run_many_async(call, ["a", "b"], AdaptiveLimiter(2), on_stop=stopped.append)
        async with contextlib.aclosing(batch) as outcomes:
            async for outcome in outcomes:
                assert outcome.id == "0"
                break
    assert [(o.id, o.status, type(o.error).__name__) for o in stopped] == [("1", "failed", "Interrupted")]


def _with_run(output: str | None, code: str = "print(1)") -> CodeInterpreterResult:
    return dataclasses.replace(
        _partial(),
        code_runs=(CodeRun(0, code, output),),
        steps=(Step("code", "", 0),),
        timings=Timings(time_to_first_event=0.0, total_time=1.0),
    )


def test_a_code_run_that_printed_nothing_still_has_its_response_in_the_spans_output_messages() -> None:
    """_telemetry.output_messages: `if run.output is not None` -> `if run.output` (an empty output dropped)."""
    parts = output_messages(_with_run(""))[0]["parts"]
    responses = [p for p in parts if p["type"] == "server_tool_call_response"]
    assert [r["server_tool_call_response"]["output"] for r in responses] == [""]
    assert not [p for p in output_messages(_with_run(None))[0]["parts"] if p["type"] == "server_tool_call_response"]


def test_a_first_event_at_zero_seconds_is_still_recorded_on_the_span() -> None:
    """_telemetry._result_attributes: `time_to_first_event is not None` -> truthiness (0.0 dropped)."""
    assert _result_attributes(_with_run(None), False)["gen_ai.response.time_to_first_chunk"] == 0.0


def test_an_exported_script_shows_a_last_value_of_zero_as_the_sandbox_does() -> None:
    """_result._SHOW_DEF: `if value is not None` -> `if value` (a falsy last value printed by the sandbox, not here)."""
    script = _with_run("0", code="x = 0\nx").to_script()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script, "<script>", "exec"), {})
    assert out.getvalue() == "0\n"


def test_a_first_rate_limit_naming_the_longest_wait_still_lets_the_rate_climb_back() -> None:
    """_limiter._estimate: a refused rate on the floor (Retry-After >= MAX_RETRY_AFTER) left no depth, so the probe
    stayed at one start a minute for the rest of the batch."""
    limiter = AdaptiveLimiter(4)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=MAX_RETRY_AFTER)
    floor = limiter.rate
    assert floor == 1.0 / MAX_RETRY_AFTER
    now = MAX_RETRY_AFTER
    for _ in range(2 * PROBE_ADMISSIONS):
        wait = limiter.delay(now)
        assert wait is not None
        now += wait
        ticket = limiter.start(now)
        limiter.admitted(ticket, now + 0.1)
        limiter.finish(ticket, now + 0.2, "ok")
    assert limiter.rate > floor
