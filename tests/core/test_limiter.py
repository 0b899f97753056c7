"""The adaptive limiter and the batch plan, driven directly with a fake clock (plain numbers)."""

from __future__ import annotations

import pytest

from qwen_ci_tool import (
    AdaptiveLimiter,
    BatchOutcome,
    BatchTask,
    CodeInterpreterResult,
    ConfigurationError,
    InternalServerError,
    RateLimitError,
    StreamInterruptedError,
    Usage,
)
from qwen_ci_tool._batch import BatchPlan, error_retryable


def fill(limiter: AdaptiveLimiter, now: float = 0.0) -> list[int]:
    """Start calls until the limiter says wait; returns their tickets."""
    tickets = []
    while limiter.delay(now) == 0.0:
        tickets.append(limiter.start())
    return tickets


def rate_limit(status: int = 429, retry_after: float | None = 2.0, **kw: object) -> RateLimitError:
    return RateLimitError("throttled", status_code=status, retry_after=retry_after, **kw)  # type: ignore[arg-type]


def test_a_fresh_limiter_allows_its_maximum_at_once_then_says_wait_for_a_finish() -> None:
    limiter = AdaptiveLimiter(4)
    assert len(fill(limiter)) == 4
    assert limiter.delay(0.0) is None
    limiter.finish(1, 0.1, "ok")
    assert limiter.delay(0.1) == 0.0


def test_a_rate_limit_halves_the_concurrency_and_pauses_new_starts_for_retry_after() -> None:
    limiter = AdaptiveLimiter(8)
    tickets = fill(limiter)
    limiter.finish(tickets[0], 10.0, "rate_limited", retry_after=2.0)
    assert limiter.concurrency == 4
    assert limiter.delay(10.5) == pytest.approx(1.5)
    assert limiter.delay(12.0) is None  # pause over, but 7 still in flight > 4
    for t in tickets[1:5]:
        limiter.finish(t, 12.0, "failed")
    assert limiter.delay(12.0) == 0.0


def test_a_burst_of_rate_limits_from_calls_already_in_flight_cuts_only_once() -> None:
    limiter = AdaptiveLimiter(8)
    tickets = fill(limiter)
    for t in tickets:
        limiter.finish(t, 1.0, "rate_limited", retry_after=0.0)
    assert limiter.concurrency == 4 and limiter.cuts == 1 and limiter.rate_limited == 8
    # A call started after the cut that is throttled again is a new signal.
    later = limiter.start()
    limiter.finish(later, 2.0, "rate_limited", retry_after=0.0)
    assert limiter.concurrency == 2 and limiter.cuts == 2


def test_successes_raise_the_concurrency_back_to_the_maximum_and_no_further() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.finish(limiter.start(), 0.0, "rate_limited", retry_after=0.0)
    limiter.finish(limiter.start(), 0.0, "rate_limited", retry_after=0.0)
    assert limiter.concurrency == 2
    seen = []
    for i in range(40):
        limiter.finish(limiter.start(), 1.0 + i, "ok")
        seen.append(limiter.concurrency)
    assert seen == sorted(seen) and seen[0] <= 3 and seen[-1] == 8
    assert seen.index(8) > 8  # additive: about one more per round of successes, not a jump


def test_other_failures_neither_cut_nor_raise_the_concurrency() -> None:
    limiter = AdaptiveLimiter(4)
    limiter.finish(limiter.start(), 0.0, "rate_limited", retry_after=0.0)
    for _ in range(10):
        limiter.finish(limiter.start(), 1.0, "failed")
    assert limiter.concurrency == 2 and limiter.delay(1.0) == 0.0


def test_a_rate_limit_without_retry_after_pauses_the_default_and_a_huge_one_is_capped() -> None:
    limiter = AdaptiveLimiter(4, default_pause=1.5, max_pause=30.0)
    limiter.finish(limiter.start(), 0.0, "rate_limited")
    assert limiter.delay(0.0) == pytest.approx(1.5)
    limiter.finish(limiter.start(), 0.0, "rate_limited", retry_after=3600.0)
    assert limiter.delay(0.0) == pytest.approx(30.0)


def test_the_concurrency_never_goes_below_the_minimum() -> None:
    limiter = AdaptiveLimiter(4, min_concurrency=2)
    for _ in range(5):
        limiter.finish(limiter.start(), 0.0, "rate_limited", retry_after=0.0)
    assert limiter.concurrency == 2


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4"])
def test_a_concurrency_that_is_not_a_positive_whole_number_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="concurrency must be a whole number"):
        AdaptiveLimiter(bad)  # type: ignore[arg-type]


# --- the plan: which task next, and what a finished call becomes --------------------------------


def result(status: str = "completed") -> CodeInterpreterResult:
    return CodeInterpreterResult(
        answer="42",
        reasoning="",
        code_runs=(),
        steps=(),
        usage=Usage(total_tokens=10),
        request_id="rid-0",
        model="qwen3-max",
        protocol="dashscope",
        finish_reason="stop" if status == "completed" else "length",
        status=status,  # type: ignore[arg-type]
    )


def test_tasks_are_questions_task_objects_or_dicts_and_ids_default_to_their_position() -> None:
    plan = BatchPlan(
        [
            "a",
            BatchTask("x", question="b"),
            {"id": "y", "messages": [{"role": "user", "content": "c"}]},
            {"question": "d"},
        ],
        AdaptiveLimiter(8),
    )
    started = [plan.next(0.0) for _ in range(4)]
    assert [s[0] for s in started] == [  # type: ignore[index]
        BatchTask("0", question="a"),
        BatchTask("x", question="b"),
        BatchTask("y", messages=[{"role": "user", "content": "c"}]),
        BatchTask("3", question="d"),
    ]
    with pytest.raises(TypeError, match="task #0 is a int"):
        BatchPlan([7], AdaptiveLimiter(1)).next(0.0)  # type: ignore[list-item]


def test_the_plan_is_done_only_when_every_task_has_settled() -> None:
    plan = BatchPlan(["a"], AdaptiveLimiter(2))
    step = plan.next(0.0)
    assert isinstance(step, tuple)
    assert plan.next(0.0) is None  # nothing left to start, one in flight
    outcome = plan.settle(step[0], step[1], result(), 0.1)
    assert outcome == BatchOutcome("0", "completed", result=result())
    assert plan.next(0.1) is BatchPlan.DONE


def test_a_rate_limited_task_goes_back_in_the_queue_and_is_sent_again_after_the_pause() -> None:
    plan = BatchPlan(["a", "b"], AdaptiveLimiter(1))
    task, ticket = plan.next(0.0)  # type: ignore[misc]
    assert plan.settle(task, ticket, rate_limit(retry_after=2.0), 0.0) is None
    assert plan.next(1.0) == pytest.approx(1.0)
    again = plan.next(2.0)
    assert isinstance(again, tuple) and again[0] == task  # the refused task first, then "b"


def test_a_task_is_requeued_at_most_the_cap_then_ends_as_a_retryable_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwen_ci_tool import _constants

    monkeypatch.setattr(_constants, "BATCH_MAX_REQUEUES", 3)
    plan = BatchPlan(["a"], AdaptiveLimiter(1))
    outcomes = []
    for i in range(4):
        task, ticket = plan.next(float(i * 10))  # type: ignore[misc]
        outcomes.append(plan.settle(task, ticket, rate_limit(retry_after=0.0), float(i * 10)))
    assert outcomes[:3] == [None, None, None]
    last = outcomes[3]
    assert last is not None and last.status == "failed" and last.retryable
    assert plan.next(100.0) is BatchPlan.DONE


def test_a_rate_limit_that_is_not_retryable_or_came_mid_stream_is_an_outcome_not_a_requeue() -> None:
    plan = BatchPlan(["a", "b"], AdaptiveLimiter(2))
    (ta, ka), (tb, kb) = plan.next(0.0), plan.next(0.0)  # type: ignore[misc]
    quota = rate_limit(code="Throttling.AllocationQuota")
    quota.retryable = False  # e.g. an exhausted quota
    mid_stream = rate_limit(partial=result("incomplete"))
    assert plan.settle(ta, ka, quota, 0.0) == BatchOutcome("0", "failed", error=quota)
    assert plan.settle(tb, kb, mid_stream, 0.0) == BatchOutcome("1", "failed", error=mid_stream)


def test_outcome_lines_carry_the_result_or_the_error_with_the_partial_kept() -> None:
    ok = BatchOutcome.of("a", result()).to_dict()
    assert ok["status"] == "completed" and ok["result"]["answer"] == "42" and ok["error"] is None
    assert BatchOutcome.of("b", result("incomplete")).status == "incomplete"
    broken = StreamInterruptedError("broke", request_id="rid-1", partial=result("incomplete"))
    line = BatchOutcome.of("c", broken).to_dict()
    assert line["status"] == "failed" and line["result"]["answer"] == "42"
    assert line["error"] == {
        "type": "StreamInterruptedError",
        "message": "broke (request id: rid-1)",
        "request_id": "rid-1",
        "retryable": True,
    }
    assert BatchOutcome.of("d", ValueError("bug")).to_dict()["error"]["retryable"] is False


def test_retryable_follows_the_errors_own_flag_when_it_has_one() -> None:
    err = InternalServerError("boom", status_code=500)
    assert error_retryable(err)
    err.retryable = False
    assert not error_retryable(err)
