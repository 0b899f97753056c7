"""The start-pacing limiter's judgements that a dropped clause would change (the mutation sweep's
``more`` kinds, issue 26); driven directly with plain numbers as the clock."""

from __future__ import annotations

import pytest

from qwen_ci_tool import AdaptiveLimiter
from qwen_ci_tool._limiter import BACKOFF


def _burst_of_four() -> AdaptiveLimiter:
    limiter = AdaptiveLimiter(8)
    for ticket in [limiter.start(0.0) for _ in range(4)]:
        limiter.admitted(ticket, 0.1)
    assert limiter.burst == 4
    return limiter


def _bunch(limiter: AdaptiveLimiter, at: float, admitted: int, refused: int) -> None:
    tickets = [limiter.start(at) for _ in range(admitted + refused)]
    for ticket in tickets[:admitted]:
        limiter.admitted(ticket, at + 0.01)
    for ticket in tickets[admitted:]:
        limiter.finish(ticket, at + 0.02, "rate_limited", retry_after=0.5)


def test_a_bunch_refused_in_part_before_any_pacing_does_not_count_toward_a_smaller_burst() -> None:
    limiter = _burst_of_four()
    _bunch(limiter, 1.0, admitted=2, refused=1)  # started unpaced: an overshoot says nothing of bursts
    _bunch(limiter, 5.0, admitted=2, refused=1)  # the first paced group admitted in part: once is no verdict
    assert limiter.burst == 4


def test_paced_groups_refused_whole_leave_the_burst_to_the_cut() -> None:
    limiter = _burst_of_four()
    _bunch(limiter, 1.0, admitted=0, refused=1)  # the rate is known from here
    _bunch(limiter, 5.0, admitted=0, refused=2)
    _bunch(limiter, 9.0, admitted=0, refused=2)
    assert limiter.burst == 4


def test_two_paced_groups_admitted_in_part_in_a_row_shrink_the_burst_by_one() -> None:
    limiter = _burst_of_four()
    _bunch(limiter, 1.0, admitted=0, refused=1)
    _bunch(limiter, 5.0, admitted=2, refused=1)
    _bunch(limiter, 9.0, admitted=2, refused=1)
    assert limiter.burst == 3


def test_a_late_refusal_after_a_second_cut_does_not_reset_the_rate_from_its_wait() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.finish(limiter.start(0.0), 0.01, "rate_limited", retry_after=1.0)  # cut 1
    limiter.admitted(limiter.start(2.0), 2.01)  # the first start after a pause: no verdict on the rate
    early, late = limiter.start(3.0), limiter.start(3.0)
    limiter.finish(early, 3.01, "rate_limited", retry_after=1.0)  # cut 2: late was issued before it
    rate = limiter.rate
    assert limiter.cuts == 2 and rate is not None
    limiter.finish(late, 3.02, "rate_limited", retry_after=30.0)
    assert limiter.cuts == 2 and limiter.rate == pytest.approx(rate)


def test_the_admitted_rate_before_any_admission_is_zero() -> None:
    limiter = AdaptiveLimiter(4)
    assert limiter.admitted_rate(1.0) == 0.0
    limiter.start(0.0)
    assert limiter.admitted_rate(1.0) == 0.0


def test_after_a_search_ended_and_calls_were_admitted_a_refusal_cuts_from_what_was_admitted() -> None:
    limiter, t = AdaptiveLimiter(64), 0.0
    for _ in range(10):  # ten admissions, ten a second
        limiter.admitted(limiter.start(t), t + 0.01)
        t += 0.1
    limiter.finish(limiter.start(t), t + 0.01, "rate_limited")  # no wait named: search upward from here
    t += 1.0
    for _ in range(6):
        limiter.admitted(limiter.start(t), t + 0.01)
        t += 0.1
    limiter.finish(limiter.start(t), t + 0.01, "rate_limited")  # ends the search
    t += 5.0
    for _ in range(3):  # admitted, but slowly: far below the rate the search reached
        limiter.admitted(limiter.start(t), t + 0.01)
        t += 2.0
    reached, admitted = limiter.rate, limiter.admitted_rate(t + 0.01)
    assert reached is not None and 1.25 * admitted < reached
    limiter.finish(limiter.start(t), t + 0.01, "rate_limited")
    assert limiter.rate == pytest.approx(BACKOFF * 1.25 * admitted)
