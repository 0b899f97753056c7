"""How a connection failure is read from its exception chain (the mutation sweep's ``more`` kinds,
issue 26)."""

from __future__ import annotations

import ssl

import pytest

from qwen_ci_tool._classify import exception_chain, parse_duration, parse_retry_after, rate_limit_wait
from qwen_ci_tool._errors import connect_error, status_error


def _wrapped(root: BaseException, times: int) -> BaseException:
    """*root* re-raised *times* times as ``raise ... from``: each link is both cause and context."""
    exc = root
    for i in range(times):
        try:
            try:
                raise exc
            except BaseException as inner:
                raise OSError(f"layer {i}") from inner
        except OSError as outer:
            exc = outer
    return exc


def test_each_exception_of_a_chain_is_read_once_even_when_it_is_both_cause_and_context() -> None:
    root = OSError("root")
    chain = exception_chain(_wrapped(root, 7))
    assert len(chain) == 8 and len({id(e) for e in chain}) == 8 and chain[-1] is root


def test_a_certificate_failure_wrapped_many_times_is_still_told_as_a_tls_failure() -> None:
    err = connect_error(_wrapped(ssl.SSLCertVerificationError("bad cert"), 7), "https://example.invalid")
    assert "TLS handshake" in str(err) and err.retryable is False


@pytest.mark.parametrize(
    "value",
    ["soon", "Wed, 21 Oct 2015 99:28:00 GMT", "1 Jan 99999999999999999999 00:00:00 GMT"],
    ids=["not a date", "an hour out of range", "a year past any clock"],
)
def test_a_retry_after_that_is_neither_seconds_nor_a_date_is_no_wait(value: str) -> None:
    assert parse_retry_after(value) is None
    assert rate_limit_wait({"retry-after": value}) is None


def test_a_blank_duration_is_no_duration() -> None:
    assert parse_duration("  ") is None
    assert rate_limit_wait({"x-ratelimit-reset-requests": " ", "x-ratelimit-remaining-requests": "0"}) is None


def test_a_spent_request_budget_without_a_reset_time_gives_no_wait() -> None:
    assert rate_limit_wait({"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "60"}) is None


def test_an_error_built_from_a_status_names_that_status_not_an_in_band_failure() -> None:
    text = str(status_error(503, None, "busy"))
    assert "HTTP 503" in text and "inside an HTTP 200" not in text
