"""The limiter's bounds that only a particular order of events reaches (found by ``make mutate KINDS=more``'s
clamp kind): each bound here was removed once and the rest of the suite still passed."""

from __future__ import annotations

import pytest

from qwen_ci_tool import AdaptiveLimiter
from qwen_ci_tool._limiter import _MIN_RATE, BACKOFF


def test_a_bunch_admitted_whole_never_lowers_the_burst_a_larger_one_taught() -> None:
    limiter = AdaptiveLimiter(8)
    three = [limiter.start(0.0) for _ in range(3)]
    for ticket in three:
        limiter.admitted(ticket, 0.1)
    assert limiter.burst == 3
    two = [limiter.start(1.0) for _ in range(2)]
    for ticket in two:
        limiter.admitted(ticket, 1.1)
    assert limiter.burst == 3  # the service took three at once: two at once says nothing smaller


def test_a_later_shorter_retry_after_never_shortens_the_pause_already_asked_for() -> None:
    limiter = AdaptiveLimiter(8)
    first, second = limiter.start(0.0), limiter.start(0.0)
    limiter.finish(first, 1.0, "rate_limited", retry_after=30.0)
    limiter.finish(second, 2.0, "rate_limited", retry_after=2.0)
    assert limiter.paused_until == 31.0
    assert limiter.delay(10.0) == pytest.approx(21.0)


def test_a_retry_after_of_zero_is_a_wait_of_zero_not_the_default_pause() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.0)
    assert limiter.paused_until == 0.0 and limiter.delay(0.0) == 0.0


def test_a_later_refusal_of_the_first_burst_counts_its_wait_at_most_as_the_longest_pause() -> None:
    limiter = AdaptiveLimiter(8, max_pause=10.0)
    first, second = limiter.start(0.0), limiter.start(0.0)
    limiter.finish(first, 0.01, "rate_limited", retry_after=5.0)
    assert limiter.rate == pytest.approx(BACKOFF * 0.2)
    limiter.finish(second, 0.02, "rate_limited", retry_after=100.0)  # waited 10 s at most: one per 10 s
    assert limiter.rate == pytest.approx(BACKOFF * 0.1)
    assert limiter.paused_until == pytest.approx(10.02)


def test_refusals_in_a_row_never_cut_the_rate_below_one_start_per_longest_retry_after() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=60.0)  # one start a minute: the floor
    assert limiter.rate == pytest.approx(_MIN_RATE) and limiter.delay(60.0) == 0.0
    limiter.start(60.0)  # the first start after the pause (it cannot cut); still awaiting its answer
    assert limiter.delay(60.0) == pytest.approx(60.0)
    assert limiter.delay(120.0) == 0.0
    limiter.finish(limiter.start(120.0), 120.0, "rate_limited", retry_after=60.0)  # refused again: a deeper cut
    assert limiter.cuts == 2 and limiter.rate == pytest.approx(_MIN_RATE)


@pytest.mark.parametrize("admissions", [1, 2, 7])
def test_the_admitted_rate_of_fewer_admissions_than_its_window_counts_them_all(admissions: int) -> None:
    limiter = AdaptiveLimiter(16)
    tickets = [limiter.start(0.0) for _ in range(admissions)]
    for ticket in tickets:
        limiter.admitted(ticket, 0.5)
    assert limiter.admitted_rate(0.9) == pytest.approx(admissions / 0.9)  # since the first start
