"""`QwenCIError.retryable`: decided once in the core, by class and (where the service says so) by
code. The fault matrix checks it end to end for every row; this checks every class and every
documented code directly."""

from __future__ import annotations

import pytest

import qwen_ci_tool as q
from qwen_ci_tool._errors import status_error

# Every code PROTOCOL.md documents (the vendor SDK's and the real captures'), with its status.
DOCUMENTED_CODES = [
    ("InvalidApiKey", 401, q.AuthenticationError, False),
    ("AccessDenied", 403, q.AuthenticationError, False),
    ("AccessDenied.Unpurchased", 403, q.AuthenticationError, False),
    ("Model.AccessDenied", 403, q.AuthenticationError, False),
    ("Arrearage", 400, q.AuthenticationError, False),
    ("Arrearage", 403, q.AuthenticationError, False),
    ("InvalidParameter", 400, q.BadRequestError, False),
    ("Model.NotExist", 404, q.BadRequestError, False),
    ("DataInspectionFailed", 400, q.ContentFilterError, False),
    ("Throttling", 429, q.RateLimitError, True),
    ("Throttling.RateQuota", 429, q.RateLimitError, True),
    ("Throttling.ResourceExhausted", 429, q.RateLimitError, True),
    ("InternalError", 500, q.InternalServerError, True),
    ("ServiceUnavailable", 503, q.InternalServerError, True),
    ("GatewayTimeout", 504, q.InternalServerError, True),
    ("invalid_api_key", 401, q.AuthenticationError, False),
    ("invalid_parameter_error", 400, q.BadRequestError, False),
    ("data_inspection_failed", 400, q.ContentFilterError, False),
    ("limit_requests", 429, q.RateLimitError, True),
    # 429s that no wait fixes: the quota (of the account, or of a token plan until it resets) is used up.
    ("insufficient_quota", 429, q.RateLimitError, False),
    ("Throttling.AllocationQuota", 429, q.RateLimitError, False),
]


@pytest.mark.parametrize(
    ("code", "status", "cls", "retryable"), DOCUMENTED_CODES, ids=[f"{c}-{s}" for c, s, _, _ in DOCUMENTED_CODES]
)
def test_each_documented_code_has_its_class_and_says_whether_calling_again_can_help(
    code: str, status: int, cls: type[q.APIStatusError], retryable: bool
) -> None:
    err = status_error(status, code, "the service's words")
    assert type(err) is cls
    assert err.retryable is retryable


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, q.BadRequestError, False),
        (401, q.AuthenticationError, False),
        (403, q.AuthenticationError, False),
        (404, q.BadRequestError, False),
        (429, q.RateLimitError, True),
        (500, q.InternalServerError, True),
        (502, q.InternalServerError, True),
        (503, q.InternalServerError, True),
    ],
)
def test_an_unknown_code_or_none_decides_by_status(status: int, cls: type[q.APIStatusError], retryable: bool) -> None:
    for code in (None, "SomethingNew"):
        err = status_error(status, code, None)
        assert type(err) is cls and err.retryable is retryable


def test_permanent_codes_are_not_retryable_whatever_class_builds_them() -> None:
    assert q.RateLimitError("x", status_code=429, code="insufficient_quota").retryable is False
    assert q.RateLimitError("x", status_code=429, code="Throttling.AllocationQuota").retryable is False
    assert q.RateLimitError("x", status_code=429, code="Throttling").retryable is True
    assert q.InternalServerError("x", status_code=500, code="Arrearage").retryable is False


@pytest.mark.parametrize(
    ("err", "retryable"),
    [
        (q.ConfigurationError("x"), False),
        (q.AuthenticationError("x", status_code=401), False),
        (q.BadRequestError("x", status_code=400), False),
        (q.ContentFilterError("x", status_code=400), False),
        (q.RateLimitError("x", status_code=429), True),
        (q.InternalServerError("x", status_code=500), True),
        (q.APIConnectionError("x"), True),
        (q.APITimeoutError("x", kind="connect"), True),
        (q.APITimeoutError("x", kind="idle"), True),
        (q.APITimeoutError("x", kind="total"), True),
        (q.StreamInterruptedError("x"), True),
        (q.ProtocolError("x"), True),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, q.QwenCIError) else str(v),
)
def test_each_error_class_says_whether_calling_again_may_succeed(err: q.QwenCIError, retryable: bool) -> None:
    assert err.retryable is retryable


def test_the_cause_can_say_more_than_the_class() -> None:
    assert q.ProtocolError("not an event stream", retryable=False).retryable is False
    assert q.APIConnectionError("certificate verify failed", retryable=False).retryable is False
