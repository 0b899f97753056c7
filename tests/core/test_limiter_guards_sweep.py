"""Promises of the start-pacing limiter (qwen_ci_tool._limiter), each pinned by a test that fails when its line
breaks (found by the mutation sweep); driven directly with plain numbers as the clock."""

from __future__ import annotations

import pytest

from qwen_ci_tool import AdaptiveLimiter, ConfigurationError
from qwen_ci_tool._limiter import BACKOFF, BUNCH_SPAN


def test_a_refused_concurrency_says_which_value_and_what_it_must_be() -> None:
    with pytest.raises(ConfigurationError) as info:
        AdaptiveLimiter(0)
    assert str(info.value) == "Invalid concurrency 0. concurrency must be a whole number >= 1 (e.g. 4)."


def test_a_start_without_a_time_is_at_the_time_of_the_last_delay() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.5)  # 1.9 starts per second
    assert limiter.delay(5.0) == 0.0
    limiter.start()  # at 5.0
    assert limiter.delay(5.0) == pytest.approx(1 / limiter.rate)  # type: ignore[operator]


@pytest.mark.parametrize("apart", [0.0, BUNCH_SPAN])
def test_two_starts_within_the_bunch_span_admitted_whole_teach_a_burst_of_two(apart: float) -> None:
    limiter = AdaptiveLimiter(8)
    limiter.admitted(limiter.start(-1.0), -0.9)  # alone: no burst learnt
    assert limiter.burst == 1
    first, second = limiter.start(0.0), limiter.start(apart)
    limiter.admitted(first, 0.1)
    assert limiter.burst == 1  # judged only once the whole bunch has answered
    limiter.admitted(second, 0.1)
    assert limiter.burst == 2


def test_starts_further_apart_than_the_bunch_span_are_no_bunch() -> None:
    limiter = AdaptiveLimiter(8)
    first, second = limiter.start(1.0), limiter.start(1.0 + 2 * BUNCH_SPAN)
    limiter.admitted(first, 1.1)
    limiter.admitted(second, 1.1)
    assert limiter.burst == 1


def test_a_later_refusal_of_the_first_burst_naming_a_longer_wait_lowers_the_first_estimate() -> None:
    limiter = AdaptiveLimiter(8)
    first, second = limiter.start(0.0), limiter.start(0.0)
    limiter.finish(first, 0.01, "rate_limited", retry_after=1.0)
    assert limiter.rate == pytest.approx(BACKOFF * 1.0)
    limiter.finish(second, 0.02, "rate_limited", retry_after=2.0)  # the longest wait named is the best estimate
    assert limiter.cuts == 1 and limiter.rate == pytest.approx(BACKOFF * 0.5)


def test_the_admitted_rate_counts_from_the_first_start_and_never_over_a_zero_window() -> None:
    for at, rate in ((1.0, 8 / 1e-3), (1.4, 8 / 0.4)):
        limiter = AdaptiveLimiter(16)
        tickets = [limiter.start(1.0) for _ in range(8)]
        for ticket in tickets:
            limiter.admitted(ticket, at)
        # All at once: a millisecond's worth; 0.4 s after the first start: over those 0.4 s, not a second.
        assert limiter.admitted_rate(at) == pytest.approx(rate)


def test_a_first_refusal_without_a_wait_counts_what_was_admitted_since_the_first_start() -> None:
    limiter = AdaptiveLimiter(16)
    tickets = [limiter.start(1.0) for _ in range(4)]
    for ticket in tickets:
        limiter.admitted(ticket, 1.4)
    limiter.finish(limiter.start(1.5), 1.5, "rate_limited")
    assert limiter.rate == pytest.approx(BACKOFF * 4 / 0.5)


@pytest.mark.parametrize(
    ("admitted", "retry_after", "rate"),
    [
        (8, 0.01, 4 * 8),  # 8 admitted over the last second; 10 ms would mean 100 per second: four times 8
        (8, 10.0, 0.1),  # a wait far longer than what was admitted allows: one start per 10 s is the rate
        (5, 0.02, 50),  # too few admissions to tell a fixed window: the 20 ms wait is the rate, not capped
    ],
    ids=["capped-at-four-times-admitted", "a-longer-wait-is-the-rate", "under-eight-admissions-as-named"],
)
def test_a_first_wait_names_the_rate_capped_at_four_times_what_was_admitted_from_eight_admissions_on(
    admitted: int, retry_after: float, rate: float
) -> None:
    limiter = AdaptiveLimiter(16)
    tickets = [limiter.start(0.0) for _ in range(admitted)]
    for ticket in tickets:
        limiter.admitted(ticket, 0.5)
    limiter.finish(limiter.start(1.0), 1.0, "rate_limited", retry_after=retry_after)
    assert limiter.rate == pytest.approx(BACKOFF * rate)


def test_a_refusal_at_a_rate_far_above_what_was_admitted_cuts_from_a_quarter_above_what_was() -> None:
    limiter = AdaptiveLimiter(64)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.01)  # 95 starts per second
    now = 1.0
    for _ in range(8):  # admitted at 8 per second only: far below the rate
        ticket = limiter.start(now)
        limiter.admitted(ticket, now)
        now += 0.125
    admitted = limiter.admitted_rate(now)
    limiter.finish(limiter.start(now), now, "rate_limited", retry_after=0.01)
    assert limiter.rate == pytest.approx(BACKOFF * 1.25 * admitted)


def test_the_probe_is_bounded_by_twice_the_admitted_rate_from_the_eighth_admission_on() -> None:
    limiter = AdaptiveLimiter(64)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=1.0)  # 0.95 per second, searching no more
    now = 2.0
    limiter.admitted(limiter.start(now), now)  # the first start after the pause: no probe
    rates = []
    for _ in range(8):
        now += 0.5
        limiter.admitted(limiter.start(now), now)
        rates.append(limiter.rate)
    # From the eighth admission the ceiling applies: twice what was admitted over the last few.
    assert rates[-1] == pytest.approx(min(rates[-1], 2.0 * limiter.admitted_rate(now)))
    assert rates[-1] <= 2.0 * limiter.admitted_rate(now) + 1e-9


def test_a_refusal_before_any_admission_at_a_new_rate_far_above_what_was_admitted_cuts_deeper_from_it() -> None:
    limiter = AdaptiveLimiter(16)
    tickets = [limiter.start(0.0) for _ in range(8)]
    for ticket in tickets:
        limiter.admitted(ticket, 0.5)  # 8 per second admitted
    limiter.finish(limiter.start(1.0), 1.0, "rate_limited", retry_after=0.01)  # capped at 4x: 30.4 per second
    assert limiter.rate == pytest.approx(BACKOFF * 4 * 8)
    limiter.start(1.02)  # the first start after the pause (not spaced: it cannot cut)
    limiter.finish(limiter.start(1.06), 1.07, "rate_limited", retry_after=0.01)
    # No admission at the new rate, which was never reached: cut from 1.25x what was admitted, one step deeper.
    assert limiter.cuts == 2 and limiter.rate == pytest.approx(BACKOFF**2 * 1.25 * 8)


def test_the_limiters_repr_shows_its_rate_its_concurrency_and_what_is_in_flight() -> None:
    limiter = AdaptiveLimiter(4)
    assert repr(limiter) == "AdaptiveLimiter(rate=unknown, max_concurrency=4, in_flight=0)"
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.5)
    limiter.start(1.0)
    assert repr(limiter) == "AdaptiveLimiter(rate=1.9/s, max_concurrency=4, in_flight=1)"
