"""Guards from a sweep of break patterns other than boundaries (issue 26): a condition dropped, a
``not`` flipped, a wrong field read, an entry dropped from a table, a message naming the wrong
setting. Each test here was checked to fail with its one-line break of the library."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest

from qwen_ci_tool import (
    AuthenticationError,
    BadRequestError,
    CodeInterpreterResult,
    ContentFilterError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    StreamInterruptedError,
)
from qwen_ci_tool._classify import (
    class_for,
    connection_kind,
    parse_duration,
    parse_retry_after,
    rate_limit_wait,
    read_body,
    read_failure,
)
from qwen_ci_tool._constants import REGION_ROOTS
from qwen_ci_tool._errors import (
    ErrorContext,
    connect_error,
    not_an_event_stream_error,
    status_error,
    timeout_error,
    worded,
)
from qwen_ci_tool._explain import for_agent, incomplete_note, retry_advice
from qwen_ci_tool._knobs import PYTHON

BEIJING = "https://dashscope.aliyuncs.com"


def context(protocol: str = "dashscope", model: str = "qwen3-max") -> ErrorContext:
    return ErrorContext(base_url=BEIJING, model=model, protocol=protocol)


def test_a_404_without_a_code_says_the_model_does_not_exist() -> None:
    err = status_error(404, None, "Not Found", context=context("openai"))
    assert isinstance(err, BadRequestError)
    assert err.hint is not None and "does not exist" in err.hint and "Known models" in err.hint


def test_url_error_on_a_protocol_other_than_native_is_not_blamed_on_the_native_path() -> None:
    err = status_error(400, "InvalidParameter", "url error, please check url", context=context("openai"))
    assert err.hint is not None and "native protocol has two paths" not in err.hint
    native = status_error(400, "InvalidParameter", "url error, please check url", context=context("dashscope"))
    assert native.hint is not None and "native protocol has two paths" in native.hint


def test_the_total_timeouts_advice_names_the_total_timeout_setting() -> None:
    err = timeout_error("total", base_url=BEIJING, seconds=30)
    assert err.hint is not None and "{total_timeout}" in err.hint and "{idle_timeout}" not in err.hint
    assert "Raise total_timeout" in err.describe(PYTHON)


def test_a_tls_handshake_failure_is_not_retryable_and_a_refused_connection_is() -> None:
    tls = connect_error(ssl.SSLCertVerificationError("certificate verify failed"), BEIJING)
    assert "TLS handshake" in str(tls) and tls.retryable is False
    refused = connect_error(ConnectionRefusedError("connection refused"), BEIJING)
    assert "refused" in str(refused) and refused.retryable is True


def test_a_401_at_the_singapore_root_chosen_as_base_url_names_beijing_as_the_other_region() -> None:
    chosen = ErrorContext(
        base_url=REGION_ROOTS["singapore"], model="qwen3-max", protocol="dashscope", custom_base_url=True
    )
    err = status_error(401, "InvalidApiKey", "Invalid API-key provided.", context=chosen)
    assert err.hint is not None and "Beijing region" in err.hint
    assert f"{{base_url:{REGION_ROOTS['beijing']}}}" in err.hint


def test_a_reply_that_is_not_an_event_stream_is_not_retryable_and_names_what_came() -> None:
    err = not_an_event_stream_error("text/html", 200, "req-1")
    assert err.retryable is False and "text/html with HTTP 200" in str(err) and err.request_id == "req-1"


def test_a_bare_parser_error_gets_advice_and_one_with_advice_keeps_its_own() -> None:
    assert worded(ProtocolError("a line without end")).hint == "Check {base_url} (a proxy may be altering the stream)."
    assert worded(ProtocolError("a line without end", hint="Keep this.")).hint == "Keep this."


def test_a_401_at_a_root_chosen_over_a_region_names_the_other_root_not_the_regions_own() -> None:
    both = ErrorContext(
        base_url=REGION_ROOTS["beijing"],
        model="qwen3-max",
        protocol="dashscope",
        custom_base_url=True,
    )
    err = status_error(401, "InvalidApiKey", "Invalid API-key provided.", context=both)
    assert err.hint is not None and f"{{base_url:{REGION_ROOTS['singapore']}}}" in err.hint


_CODE_CLASSES = [
    *[(code, AuthenticationError) for code in ("Model.AccessDenied", "Arrearage", "invalid_api_key")],
    *[(code, ContentFilterError) for code in ("data_inspection_failed", "DataInspectionFailed")],
    *[(code, RateLimitError) for code in ("rate_limit_exceeded", "insufficient_quota", "limit_requests")],
    *[(code, RateLimitError) for code in ("Throttling", "Throttling.RateQuota", "Throttling.AllocationQuota")],
    *[(code, AuthenticationError) for code in ("InvalidApiKey", "AccessDenied.Unpurchased")],
    *[
        (code, InternalServerError)
        for code in ("internal_error", "server_error", "service_unavailable", "InternalError", "InternalError.Algo")
    ],
    *[(code, InternalServerError) for code in ("ServiceUnavailable", "GatewayTimeout")],
]


@pytest.mark.parametrize(("code", "cls"), _CODE_CLASSES)
def test_each_documented_error_code_decides_the_class_whatever_the_status(code: str, cls: type) -> None:
    assert class_for(400, code) is cls
    assert type(status_error(400, code, "some message")) is cls


@pytest.mark.parametrize(
    "code",
    ["InvalidParameter", "Model.NotExist", "model_not_found", "invalid_request_error", "invalid_parameter_error"],
)
def test_each_refused_request_code_is_a_bad_request_even_with_a_5xx_status(code: str) -> None:
    assert class_for(500, code) is BadRequestError


def test_only_a_service_failure_saying_rate_limit_becomes_a_rate_limit_not_a_refused_request() -> None:
    assert class_for(500, "server_error", "Rate limit reached") is RateLimitError
    assert class_for(400, "InvalidParameter", "the rate limit parameter is invalid") is BadRequestError
    assert class_for(401, None, "rate limit key invalid") is AuthenticationError


def test_a_bare_error_object_inside_a_200_is_a_service_failure_500() -> None:
    failure = read_failure({"error": {"code": "SomeNewCode", "message": "boom"}})
    assert failure.status == 500 and failure.in_band
    assert class_for(failure.status, failure.code, failure.message) is InternalServerError


def test_the_bodys_own_request_id_beats_the_error_objects_id() -> None:
    body = {"request_id": "req-top", "error": {"id": "err-inner", "code": "InvalidParameter", "message": "m"}}
    assert read_body(400, body).request_id == "req-top"
    assert read_body(400, {"error": {"id": "err-inner", "code": "c", "message": "m"}}).request_id == "err-inner"


def test_a_retry_after_date_without_a_zone_is_read_as_utc() -> None:
    now = datetime(2026, 12, 6, 6, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 06 Dec 2026 06:00:10 -0000", now=now) == 10.0
    assert parse_retry_after("Sun, 06 Dec 2026 06:00:10 GMT", now=now) == 10.0


def test_a_duration_in_hours_counts_3600_seconds_each() -> None:
    assert parse_duration("1h") == 3600.0
    assert parse_duration("1h2m3.5s") == 3723.5


def test_a_spent_request_budget_gives_the_time_one_request_takes_to_come_back() -> None:
    headers = {
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-limit-requests": "3",
    }
    assert rate_limit_wait(headers) == 2.0
    assert rate_limit_wait({**headers, "x-ratelimit-remaining-requests": "1"}) is None


def test_a_certificate_failure_is_tls_and_a_nodename_failure_is_dns() -> None:
    assert connection_kind([OSError("certificate verify failed: unable to get local issuer")]) == "tls"
    assert connection_kind([OSError("nodename nor servname provided, or not known")]) == "dns"


def test_the_message_of_a_nested_openai_error_is_read_from_inside_it() -> None:
    failure = read_body(400, {"error": {"message": "inner words", "type": "invalid_request_error"}, "message": "outer"})
    assert failure.message == "inner words" and failure.code == "invalid_request_error"


def test_a_connection_error_that_fails_the_same_way_every_time_never_invites_a_retry() -> None:
    tls = connect_error(ssl.SSLCertVerificationError("certificate verify failed"), BEIJING)
    assert retry_advice(tls).startswith("Calling again: will not help")


def test_a_rate_limit_asking_to_wait_zero_seconds_says_wait_a_while() -> None:
    assert "wait a while before" in retry_advice(status_error(429, None, "slow down", retry_after=0.0))
    assert "wait 3 s, as the service asked," in retry_advice(status_error(429, None, "slow down", retry_after=2.5))


def test_a_partial_with_code_runs_and_no_answer_is_still_shown_to_the_agent() -> None:
    partial = CodeInterpreterResult.from_dict(
        {"answer": "", "code_runs": [{"index": 0, "code": "print(6*7)"}], "status": "incomplete"}
    )
    text = for_agent(StreamInterruptedError("broke", partial=partial), PYTHON, tool="t")
    assert "What arrived before the failure" in text and "print(6*7)" in text


def test_the_incomplete_note_names_the_finish_reason() -> None:
    result = CodeInterpreterResult.from_dict({"answer": "cut", "status": "incomplete", "finish_reason": "length"})
    assert "(finish reason: length)" in incomplete_note(result)


@pytest.mark.parametrize("max_chars", [900, 1500, 3000])
def test_an_agent_failure_text_with_a_long_partial_stays_within_max_chars(max_chars: int) -> None:
    partial = CodeInterpreterResult.from_dict(
        {"answer": "x" * 6000, "code_runs": [{"index": 0, "code": "print(6*7)"}], "status": "incomplete"}
    )
    text = for_agent(StreamInterruptedError("broke", partial=partial), PYTHON, tool="t", max_chars=max_chars)
    assert len(text) <= max_chars and "What arrived before the failure" in text and "xxxxxxxxxx" in text
