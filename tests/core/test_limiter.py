"""The start-pacing limiter and the batch plan, driven directly with a fake clock (plain numbers)."""

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
from qwen_ci_tool._limiter import BACKOFF, MAX_GROUP, PROBE_ADMISSIONS, SEARCH_STEP


def fill(limiter: AdaptiveLimiter, now: float = 0.0) -> list[int]:
    """Start calls until the limiter says wait; returns their tickets."""
    tickets = []
    while limiter.delay(now) == 0.0:
        tickets.append(limiter.start(now))
    return tickets


def rate_limit(status: int = 429, retry_after: float | None = 2.0, **kw: object) -> RateLimitError:
    return RateLimitError("throttled", status_code=status, retry_after=retry_after, **kw)  # type: ignore[arg-type]


def paced(rate: float, concurrency: int = 64) -> AdaptiveLimiter:
    """A limiter that has learnt ``rate`` (its first refusal came with Retry-After 1/(rate/0.9))."""
    limiter = AdaptiveLimiter(concurrency)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=BACKOFF / rate)
    ticket = limiter.start(1.0)  # the first start after the pause (not spaced: it neither cuts nor probes)
    limiter.finish(ticket, 1.0, "ok")
    assert limiter.rate == pytest.approx(rate)
    return limiter


def test_before_any_rate_limit_starts_grow_with_answers_up_to_the_concurrency() -> None:
    limiter = AdaptiveLimiter(8)
    assert fill(limiter) == [1]  # one call awaiting its answer
    limiter.admitted(1, 0.01)
    assert fill(limiter, 0.01) == [2]  # one answered: one more may await
    limiter.admitted(2, 0.02)
    assert fill(limiter, 0.02) == [3, 4]
    for ticket in (3, 4):
        limiter.admitted(ticket, 0.03) if ticket == 3 else limiter.finish(ticket, 0.03, "failed")
    assert len(fill(limiter, 0.03)) == 4  # 4 answered (a failure is an answer too); 8 at once at most
    assert limiter.in_flight == 7 and limiter.delay(0.03) is None
    assert limiter.rate is None and limiter.concurrency == 8


def test_the_first_rate_limit_learns_the_start_rate_from_retry_after_and_spaces_starts_evenly() -> None:
    limiter = AdaptiveLimiter(64)
    first = limiter.start(0.0)
    limiter.admitted(first, 0.001)
    limiter.finish(limiter.start(0.001), 0.002, "rate_limited", retry_after=0.1)  # the service: 10/s
    assert limiter.rate == pytest.approx(BACKOFF * 10) and limiter.cuts == 1
    assert limiter.delay(0.05) == pytest.approx(0.052)  # the Retry-After first
    assert limiter.delay(0.103) == 0.0  # the refused start used no slot: one may go at once
    limiter.start(0.103)
    assert limiter.delay(0.103) == pytest.approx(1 / (BACKOFF * 10))  # then evenly spaced below the rate
    assert limiter.delay(0.104 + 1 / (BACKOFF * 10)) == 0.0


def test_the_first_rate_limit_without_retry_after_takes_what_was_admitted_in_the_last_second() -> None:
    limiter = AdaptiveLimiter(64, default_pause=1.5)
    for at in (0.0, 1.1, 1.2, 1.3, 1.4, 1.5):  # the first, more than a second ago, is not counted
        limiter.admitted(limiter.start(at), at)
    limiter.finish(limiter.start(1.5), 1.5, "rate_limited")
    assert limiter.rate == pytest.approx(BACKOFF * 5)
    assert limiter.delay(1.5) == pytest.approx(1.5)  # the default pause, before anything was known


def test_a_first_rate_limit_early_in_a_run_counts_admissions_since_its_start() -> None:
    limiter = AdaptiveLimiter(64)
    for at in (0.0, 0.1, 0.2, 0.3, 0.4):
        limiter.admitted(limiter.start(at), at)
    limiter.finish(limiter.start(0.5), 0.5, "rate_limited")
    assert limiter.rate == pytest.approx(BACKOFF * 4 / 0.5)  # 4 since the start (half a second ago)


def test_a_later_rate_limit_without_retry_after_waits_one_interval_not_the_default_pause() -> None:
    limiter = paced(10.0)
    limiter.finish(limiter.start(2.0), 2.0, "rate_limited")
    assert limiter.delay(2.0) == pytest.approx(1 / (BACKOFF * 10 * BACKOFF), rel=0.2)


def test_a_burst_of_rate_limits_from_calls_started_before_the_cut_cuts_only_once() -> None:
    limiter = AdaptiveLimiter(8)
    tickets = [limiter.start(0.0) for _ in range(8)]
    for t in tickets:
        limiter.finish(t, 0.01, "rate_limited", retry_after=0.1)
    assert limiter.cuts == 1 and limiter.rate_limited == 8 and limiter.rate == pytest.approx(BACKOFF * 10)
    # The first start after the pause is not spaced at the rate: refused, it only pauses again.
    limiter.finish(limiter.start(0.2), 0.21, "rate_limited", retry_after=0.1)
    assert limiter.cuts == 1
    # A call started after the cut, spaced at the new rate, that is refused again is a new signal.
    limiter.admitted(limiter.start(0.32), 0.33)
    limiter.finish(limiter.start(0.32 + 1 / (BACKOFF * 10)), 0.45, "rate_limited", retry_after=0.1)
    # No call was admitted at the new rate in between: still far too fast, so the cut goes deeper.
    assert limiter.cuts == 2 and limiter.rate == pytest.approx(BACKOFF * 10 * BACKOFF**2)


def test_admissions_after_a_cut_probe_back_to_the_refused_rate_then_beyond_it() -> None:
    limiter = paced(BACKOFF * 10)  # refused at 10/s
    now, seen = 1.0, []
    for _ in range(3 * PROBE_ADMISSIONS):
        now += 1 / limiter.rate  # type: ignore[operator]
        limiter.admitted(limiter.start(now), now)
        limiter.finish(limiter._tickets, now, "ok")
        seen.append(limiter.rate)
    assert seen == sorted(seen)
    assert seen[PROBE_ADMISSIONS - 1] == pytest.approx(10.0)  # back at the refused rate
    assert seen[PROBE_ADMISSIONS + 3] < 10.02  # and flat near it for a while
    assert seen[-1] > 11.0  # then beyond it


def test_a_cut_after_admissions_at_the_new_rate_takes_off_one_share_only() -> None:
    limiter = paced(BACKOFF * 10)
    now = 1.0
    for _ in range(3):
        now += 1 / limiter.rate  # type: ignore[operator]
        limiter.admitted(limiter.start(now), now)
    before = limiter.rate
    now += 1 / before  # type: ignore[operator]
    limiter.finish(limiter.start(now), now + 0.01, "rate_limited", retry_after=0.01)
    assert limiter.cuts == 2 and limiter.rate == pytest.approx(BACKOFF * before)  # type: ignore[operator]


def admit_paced(limiter: AdaptiveLimiter, now: float, count: int) -> float:
    """``count`` calls started at the limiter's pace, each admitted at once; the time after them."""
    for _ in range(count):
        now += 1 / limiter.rate  # type: ignore[operator]
        limiter.admitted(limiter.start(now), now)
    return now


def test_a_deeper_cut_is_not_undone_by_the_next_admission_the_probe_climbs_from_it() -> None:
    limiter = paced(BACKOFF * 10)  # refused at 10/s, now at 9.5/s
    now = 1.0 + 1 / limiter.rate  # type: ignore[operator]
    limiter.finish(limiter.start(now), now, "rate_limited", retry_after=0.01)  # refused again at once
    deep = limiter.rate
    assert deep == pytest.approx(BACKOFF * 10 * BACKOFF**2)
    admit_paced(limiter, now + 0.01, 2)  # (the first start after the pause does not probe)
    assert deep < limiter.rate < deep * 1.02  # type: ignore[operator]


def test_without_a_retry_after_the_first_cut_searches_upward_until_a_refusal_names_the_rate() -> None:
    limiter = AdaptiveLimiter(64)
    limiter.admitted(limiter.start(0.0), 0.001)
    limiter.finish(limiter.start(0.002), 0.003, "rate_limited")  # early: one admitted in a quarter second
    assert limiter.rate == pytest.approx(BACKOFF * 4)
    now = limiter.paused_until
    limiter.admitted(limiter.start(now), now)  # the first start after the pause: not spaced, no probe
    start = limiter.rate
    now = admit_paced(limiter, now, 5)
    assert limiter.rate == pytest.approx(start * SEARCH_STEP**5)  # type: ignore[operator]
    now = admit_paced(limiter, now, 10)  # (now within twice what was admitted, as any probe)
    reached = limiter.rate
    assert reached is not None and reached > 2 * start  # type: ignore[operator]
    now += 1 / reached
    limiter.finish(limiter.start(now), now, "rate_limited")
    assert limiter.rate == pytest.approx(BACKOFF * reached)  # cut from the rate reached, not what was admitted
    admit_paced(limiter, now + 1 / limiter.rate, 1)  # type: ignore[operator]
    assert limiter.rate < reached  # the search is over: the probe is the cubic one again


def test_a_refusal_right_after_a_search_cuts_from_the_rate_reached_not_from_what_was_admitted() -> None:
    limiter = AdaptiveLimiter(64)
    limiter.admitted(limiter.start(0.0), 0.001)
    limiter.finish(limiter.start(0.002), 0.003, "rate_limited")  # no wait named: a search follows
    now = limiter.paused_until
    limiter.admitted(limiter.start(now), now)
    now = admit_paced(limiter, now, 15)  # the rate climbs; what was admitted lags behind it
    reached = limiter.rate
    assert reached is not None and limiter.admitted_rate(now) < 0.7 * reached
    now += 1 / reached
    limiter.finish(limiter.start(now), now, "rate_limited")
    now = limiter.paused_until
    limiter.start(now)  # the first start after the pause (not spaced)
    now += 1 / limiter.rate  # type: ignore[operator]
    limiter.finish(limiter.start(now), now, "rate_limited")  # refused again, nothing admitted between
    assert limiter.rate == pytest.approx(BACKOFF**3 * reached)  # one cut deeper, from the rate reached


def test_admissions_of_calls_started_before_the_cut_do_not_probe() -> None:
    limiter = AdaptiveLimiter(8)
    early = [limiter.start(0.0) for _ in range(3)]
    limiter.finish(limiter.start(0.0), 0.01, "rate_limited", retry_after=0.1)
    for t in early:
        limiter.admitted(t, 0.02)
    assert limiter.rate == pytest.approx(BACKOFF * 10)


def test_the_probe_never_goes_above_twice_the_rate_just_admitted() -> None:
    limiter = paced(9.0)
    for i in range(2, 200):  # admissions come at 1/s only (e.g. bound by the concurrency)
        limiter.admitted(limiter.start(float(i)), float(i))
    assert limiter.rate is not None and 9.0 <= limiter.rate < 10.0  # not lowered by a probe either


def test_other_failures_neither_cut_nor_raise_the_rate() -> None:
    limiter = paced(9.0)
    for i in range(10):
        limiter.finish(limiter.start(2.0 + i), 2.0 + i, "failed")
    assert limiter.rate == pytest.approx(9.0) and limiter.cuts == 1


def test_a_huge_retry_after_is_capped() -> None:
    limiter = AdaptiveLimiter(4, max_pause=30.0)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=3600.0)
    assert limiter.delay(0.0) == pytest.approx(30.0)
    assert limiter.rate == pytest.approx(BACKOFF / 30.0)


def slow_start(limiter: AdaptiveLimiter, refuse: int | None = None) -> float:
    """Start bunches as answers come (1, 1, 2, 4: each started together, 10 ms apart), each answered
    before the next; ``refuse``: the ticket refused (Retry-After 0.1 s) instead. Returns the time."""
    now = 0.0
    for _ in range(4):
        for ticket in fill(limiter, now):
            if ticket == refuse:
                limiter.finish(ticket, now + 0.01, "rate_limited", retry_after=0.1)
            else:
                limiter.admitted(ticket, now + 0.01)
        now += 0.01
        if limiter.rate is not None:
            break
    return now


def run_paced(limiter: AdaptiveLimiter, now: float, starts: int) -> list[tuple[int, float]]:
    """Start ``starts`` calls when the limiter allows, each admitted at once: (group size, wait before it)."""
    groups = []
    while starts > 0:
        wait = limiter.delay(now)
        assert wait is not None
        now += wait
        tickets = fill(limiter, now)
        for ticket in tickets:
            limiter.admitted(ticket, now)
        groups.append((len(tickets), wait))
        starts -= len(tickets)
    return groups


def test_a_service_that_admitted_a_bunch_whole_gets_paced_starts_in_groups_at_the_same_rate() -> None:
    limiter = AdaptiveLimiter(64)
    now = slow_start(limiter)
    assert limiter.burst == 4 and limiter.rate is None  # a bunch of 4 started together, all admitted
    limiter.finish(limiter.start(now), now, "rate_limited", retry_after=0.1)  # the service: 10/s
    groups = run_paced(limiter, now + 0.1, 40)
    # After the pause: alone, then single until a group's worth were admitted at the new rate.
    assert [size for size, _ in groups[:5]] == [1] * 5
    assert {size for size, _ in groups[5:]} == {MAX_GROUP}
    rate = limiter.rate
    assert rate is not None
    for size, wait in groups[6:]:  # each group waits as many intervals as it has starts
        assert wait == pytest.approx(size / rate, rel=0.05)


def test_a_service_that_refused_a_start_of_a_bunch_gets_single_evenly_spaced_starts() -> None:
    limiter = AdaptiveLimiter(64)
    now = slow_start(limiter, refuse=4)  # of the bunch 3 and 4, started together, 4 was refused
    assert limiter.burst == 1 and limiter.rate is not None
    groups = run_paced(limiter, now + 0.1, 30)
    assert {size for size, _ in groups} == {1}
    assert groups[-1][1] == pytest.approx(1 / limiter.rate, rel=0.05)


def test_after_a_pause_the_first_start_goes_alone_even_when_groups_were_going() -> None:
    limiter = AdaptiveLimiter(64)
    now = slow_start(limiter)
    early = limiter.start(now)  # started before the cut, answered late
    limiter.finish(limiter.start(now), now, "rate_limited", retry_after=0.1)
    assert {size for size, _ in run_paced(limiter, now + 0.1, 20)[-2:]} == {MAX_GROUP}
    cuts = limiter.cuts
    limiter.finish(early, 5.0, "rate_limited", retry_after=0.1)  # no cut (it was started before), a pause
    assert limiter.cuts == cuts
    # A bucket has refilled one start's worth after the Retry-After: the first start goes alone.
    assert run_paced(limiter, 5.1, 1 + MAX_GROUP) == [(1, 0.0), (MAX_GROUP, pytest.approx(MAX_GROUP / limiter.rate))]


def test_groups_admitted_in_part_twice_in_a_row_become_one_smaller() -> None:
    limiter = AdaptiveLimiter(64)
    now = slow_start(limiter)
    limiter.finish(limiter.start(now), now, "rate_limited", retry_after=0.1)
    now += 0.1
    for admitted_of_four, burst in ((3, MAX_GROUP), (4, MAX_GROUP), (3, MAX_GROUP), (2, MAX_GROUP - 1)):
        # Once in part (an overshoot of the rate) keeps the size; twice in a row shrinks it.
        while True:  # single starts (after the pause, and after each cut), each admitted, until a group
            wait = limiter.delay(now)
            assert wait is not None
            now += wait
            tickets = fill(limiter, now)
            if len(tickets) > 1:
                break
            limiter.admitted(tickets[0], now)
        assert len(tickets) == MAX_GROUP
        for i, ticket in enumerate(tickets):
            if i < admitted_of_four:
                limiter.admitted(ticket, now + 0.01)
            else:
                limiter.finish(ticket, now + 0.01, "rate_limited", retry_after=0.05)
        assert limiter.burst == burst
        now += 0.01


def test_the_concurrency_stays_a_bound_while_starts_are_paced() -> None:
    limiter = paced(1000.0, concurrency=2)
    fill(limiter, 2.0)
    fill(limiter, 2.1)
    assert limiter.in_flight == 2 and limiter.delay(5.0) is None


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


def start_all(plan: BatchPlan, n: int, now: float = 0.0) -> list[tuple[BatchTask, int]]:
    """Start ``n`` tasks, each answered (begun) before the next, so the limiter lets them all go."""
    started = []
    for _ in range(n):
        step = plan.next(now)
        assert isinstance(step, tuple)
        plan.began(step[1], now, result)
        started.append(step)
    return started


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
    started = start_all(plan, 4)
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
    (ta, ka), (tb, kb) = start_all(plan, 2)
    quota = rate_limit(code="Throttling.AllocationQuota")
    quota.retryable = False  # e.g. an exhausted quota
    mid_stream = rate_limit(partial=result("incomplete"))
    assert plan.settle(ta, ka, quota, 0.0) == BatchOutcome("0", "failed", error=quota)
    assert plan.settle(tb, kb, mid_stream, 0.0) == BatchOutcome("1", "failed", error=mid_stream)


def test_a_stopped_plan_gives_each_call_in_flight_as_interrupted_with_what_it_had_received() -> None:
    plan = BatchPlan(["a", "b", "c"], AdaptiveLimiter(8))
    (ta, ka), _ = start_all(plan, 2)
    assert isinstance(plan.next(0.0), tuple)  # started, nothing received yet
    plan.settle(ta, ka, result(), 0.1)
    stopped = {o.id: o for o in plan.interrupted()}
    assert sorted(stopped) == ["1", "2"] and plan.interrupted() == []  # once
    line = stopped["1"].to_dict()
    assert line["status"] == "failed" and line["error"]["type"] == "Interrupted" and line["error"]["retryable"]
    assert line["result"]["usage"]["total_tokens"] == 10  # the partial, with the tokens it cost
    assert stopped["2"].to_dict()["result"] is None


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


def test_a_late_refusal_from_the_first_burst_after_admissions_at_the_new_rate_does_not_cut_again() -> None:
    limiter = AdaptiveLimiter(8)
    early = [limiter.start(0.0) for _ in range(4)]
    limiter.finish(early[0], 0.01, "rate_limited", retry_after=0.1)
    learnt = limiter.rate
    assert limiter.cuts == 1 and learnt == pytest.approx(BACKOFF * 10)
    now = 0.2
    limiter.admitted(limiter.start(now), now)  # the first start after the pause
    for _ in range(3):  # admissions at the learnt rate: the service agrees with it
        now += 1 / learnt
        limiter.admitted(limiter.start(now), now)
    rate = limiter.rate
    # A call of the first burst, refused late with a long wait, says nothing about the rate now.
    limiter.finish(early[1], now, "rate_limited", retry_after=2.0)
    assert limiter.cuts == 1 and limiter.rate == pytest.approx(rate) and rate >= learnt
