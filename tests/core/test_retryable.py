"""`QwenCIError.retryable`: decided once in the core, by class and (where the service says so) by
code. The fault matrix checks it end to end for every row; this checks every class and every
documented code directly."""

from __future__ import annotations

import pytest

from qwen_ci_tool import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    InternalServerError,
    ProtocolError,
    QwenCIError,
    RateLimitError,
    StreamInterruptedError,
)
from qwen_ci_tool._errors import status_error

# Every code PROTOCOL.md documents (the vendor SDK's and the real captures'), with its status.
DOCUMENTED_CODES = [
    ("InvalidApiKey", 401, AuthenticationError, False),
    ("AccessDenied", 403, AuthenticationError, False),
    ("AccessDenied.Unpurchased", 403, AuthenticationError, False),
    ("Arrearage", 400, AuthenticationError, False),
    ("Arrearage", 403, AuthenticationError, False),
    ("InvalidParameter", 400, BadRequestError, False),
    ("Model.NotExist", 404, BadRequestError, False),
    ("DataInspectionFailed", 400, ContentFilterError, False),
    ("Throttling", 429, RateLimitError, True),
    ("Throttling.RateQuota", 429, RateLimitError, True),
    ("Throttling.AllocationQuota", 429, RateLimitError, True),
    ("InternalError", 500, InternalServerError, True),
    ("ServiceUnavailable", 503, InternalServerError, True),
    ("GatewayTimeout", 504, InternalServerError, True),
    ("invalid_api_key", 401, AuthenticationError, False),
    ("invalid_parameter_error", 400, BadRequestError, False),
    ("data_inspection_failed", 400, ContentFilterError, False),
    ("limit_requests", 429, RateLimitError, True),
    # A 429 that no wait fixes: the quota is used up.
    ("insufficient_quota", 429, RateLimitError, False),
]


@pytest.mark.parametrize(("code", "status", "cls", "retryable"), DOCUMENTED_CODES, ids=[f"{c}-{s}" for c, s, _, _ in DOCUMENTED_CODES])
def test_each_documented_code_has_its_class_and_says_whether_calling_again_can_help(
    code: str, status: int, cls: type[APIStatusError], retryable: bool
) -> None:
    err = status_error(status, code, "the service's words")
    assert type(err) is cls
    assert err.retryable is retryable


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [(400, BadRequestError, False), (401, AuthenticationError, False), (403, AuthenticationError, False),
     (404, BadRequestError, False), (429, RateLimitError, True), (500, InternalServerError, True),
     (502, InternalServerError, True), (503, InternalServerError, True)],
)
def test_an_unknown_code_or_none_decides_by_status(status: int, cls: type[APIStatusError], retryable: bool) -> None:
    for code in (None, "SomethingNew"):
        err = status_error(status, code, None)
        assert type(err) is cls and err.retryable is retryable


def test_permanent_codes_are_not_retryable_whatever_class_builds_them() -> None:
    assert RateLimitError("x", status_code=429, code="insufficient_quota").retryable is False
    assert RateLimitError("x", status_code=429, code="Throttling").retryable is True
    assert InternalServerError("x", status_code=500, code="Arrearage").retryable is False


@pytest.mark.parametrize(
    ("err", "retryable"),
    [
        (ConfigurationError("x"), False),
        (AuthenticationError("x", status_code=401), False),
        (BadRequestError("x", status_code=400), False),
        (ContentFilterError("x", status_code=400), False),
        (RateLimitError("x", status_code=429), True),
        (InternalServerError("x", status_code=500), True),
        (APIConnectionError("x"), True),
        (APITimeoutError("x", kind="connect"), True),
        (APITimeoutError("x", kind="idle"), True),
        (APITimeoutError("x", kind="total"), True),
        (StreamInterruptedError("x"), True),
        (ProtocolError("x"), True),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, QwenCIError) else str(v),
)
def test_each_error_class_says_whether_calling_again_may_succeed(err: QwenCIError, retryable: bool) -> None:
    assert err.retryable is retryable


def test_the_cause_can_say_more_than_the_class() -> None:
    assert ProtocolError("not an event stream", retryable=False).retryable is False
    assert APIConnectionError("certificate verify failed", retryable=False).retryable is False
