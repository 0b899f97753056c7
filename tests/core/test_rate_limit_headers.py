"""How long a refusal asks to wait, from its headers: Retry-After, or OpenAI-style x-ratelimit-*."""

from __future__ import annotations

import pytest

from qwen_ci_tool._classify import parse_duration, rate_limit_wait


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.25", 0.25), ("2", 2.0)],
)
def test_openai_style_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [None, "", "soon", "1x", "1s and more", "s"])
def test_what_is_not_a_duration_is_none(text: str | None) -> None:
    assert parse_duration(text) is None


def test_retry_after_wins_over_the_ratelimit_headers() -> None:
    headers = {"retry-after": "3", "x-ratelimit-reset-requests": "60s", "x-ratelimit-remaining-requests": "0"}
    assert rate_limit_wait(headers) == 3.0


def test_a_spent_request_budget_waits_the_time_one_request_of_it_takes_to_come_back() -> None:
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",  # 60 a minute, full again in a minute: one a second
    }
    assert rate_limit_wait(headers) == pytest.approx(1.0)


def test_a_reset_without_a_limit_is_waited_whole() -> None:
    assert rate_limit_wait({"x-ratelimit-reset-requests": "2s"}) == pytest.approx(2.0)


def test_a_request_budget_with_requests_left_names_no_wait() -> None:
    # Refused with requests left: another budget (tokens) refused, and these headers say nothing of it.
    headers = {"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "2s"}
    assert rate_limit_wait(headers) is None


def test_no_headers_name_no_wait() -> None:
    assert rate_limit_wait({}) is None
    assert rate_limit_wait({"x-ratelimit-reset-requests": "later"}) is None
