"""Classification of a failure, apart from its wording: which error class a service error is (by
its code first, then its HTTP status), what an error body of any of the service's shapes says,
how long a refusal asks to wait (``Retry-After``, or the OpenAI-style ``x-ratelimit-*-requests``
headers), and what kind of connection failure an exception chain is.

No messages here: :mod:`qwen_ci_tool._errors` (the voice) words what this module decides.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    InternalServerError,
    RateLimitError,
)

__all__ = [
    "ConnectionKind",
    "ServiceFailure",
    "class_for",
    "connection_kind",
    "exception_chain",
    "json_object",
    "parse_duration",
    "parse_retry_after",
    "rate_limit_wait",
    "read_body",
    "read_failure",
    "says_rate_limit",
]

# Codes the prefix rules (:data:`_PREFIXES`) do not cover.
_CODES: tuple[tuple[type[APIStatusError], str], ...] = (
    (AuthenticationError, "Model.AccessDenied Arrearage invalid_api_key"),
    (BadRequestError, "InvalidParameter Model.NotExist model_not_found invalid_request_error invalid_parameter_error"),
    (ContentFilterError, "data_inspection_failed"),
    (RateLimitError, "rate_limit_exceeded insufficient_quota limit_requests"),
    (InternalServerError, "internal_error server_error service_unavailable InternalError InternalError.Algo"),
    (InternalServerError, "ServiceUnavailable GatewayTimeout"),
)
_BY_CODE = {code: cls for cls, codes in _CODES for code in codes.split()}
_PREFIXES: tuple[tuple[str | tuple[str, ...], type[APIStatusError]], ...] = (
    ("Throttling", RateLimitError),
    ("DataInspection", ContentFilterError),
    (("InvalidApiKey", "AccessDenied"), AuthenticationError),
)


def says_rate_limit(message: str | None) -> bool:
    """The Responses API reports a rate limit as code ``server_error``: only its message tells."""
    return isinstance(message, str) and "rate limit" in message.lower()


def class_for(status: int, code: str | None, message: str | None = None) -> type[APIStatusError]:
    """The error class of a service error: by its code first, then by its HTTP status. The Responses
    API's rate limit is a ``server_error`` whose message alone says so."""
    code = code or ""
    cls = _BY_CODE.get(code) or next((cls for prefix, cls in _PREFIXES if code.startswith(prefix)), None)
    if cls is None:
        by_status = {401: AuthenticationError, 403: AuthenticationError, 429: RateLimitError}
        cls = by_status.get(status) or (InternalServerError if status >= 500 else BadRequestError)
    if cls is InternalServerError and says_rate_limit(message):
        return RateLimitError
    return cls


@dataclass(frozen=True, slots=True)
class ServiceFailure:
    """What an error reply or error event said, whatever its shape: the status (inferred for a
    failure inside an HTTP 200, then ``in_band``), the service's code and message, the request id."""

    status: int
    code: str | None
    message: str | None
    request_id: str | None
    in_band: bool = False


def _describe_non_json(body: bytes, content_type: str) -> str:
    text = body[:2000].decode("utf-8", "replace")
    if "html" in content_type.lower() or text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "the reply was an HTML page, not the service's JSON (a gateway or proxy answered; check base_url and any proxy)"
    snippet = " ".join(text.split())[:200]
    return f"the reply was not JSON: {snippet!r}" if snippet else "the reply had an empty body"


def json_object(body: bytes) -> dict[str, Any] | None:
    """*body* as a JSON object; ``None`` for an empty body, one that is not JSON, or another JSON value."""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_body(
    status: int,
    body: bytes | dict[str, Any],
    *,
    content_type: str = "application/json",
    request_id: str | None = None,
    in_band: bool = False,
) -> ServiceFailure:
    """What an error body of any of the service's shapes (or none) says.

    Shapes: DashScope/Responses flat ``{"code","message","request_id"}``; OpenAI nested
    ``{"error": {"message","type","code"}, "request_id"}``; a Responses ``response.failed``
    object ``{"status": "failed", "error": {"code","message"}}``; anything else (HTML, empty).
    """
    if isinstance(body, bytes):
        data = json_object(body)
        if data is None:
            return ServiceFailure(status, None, _describe_non_json(body, content_type), request_id, in_band)
    else:
        data = body
    rid = data.get("request_id")
    inner = data.get("error")
    if not (isinstance(rid, str) and rid) and isinstance(inner, dict):
        rid = inner.get("id")  # a workspace host (*.maas.aliyuncs.com) puts the request id here
    rid = rid if isinstance(rid, str) and rid else request_id
    fields = inner if isinstance(inner, dict) else data  # OpenAI nests code and message under "error"
    code = fields.get("code") or fields.get("type") if fields is inner else fields.get("code")
    message = fields.get("message") if isinstance(fields.get("message"), str) else None
    return ServiceFailure(status, str(code) if code not in (None, "") else None, message, rid, in_band)


def read_failure(obj: dict[str, Any], *, status: int | None = None, request_id: str | None = None) -> ServiceFailure:
    """A failure reported inside a success (HTTP 200): a Responses ``response.failed`` or ``error``
    event, or a JSON error body that came with 200 instead of an event stream.

    Without an explicit status: a throttling code, or a message saying "rate limit" (the vendor's
    documented Responses rate limit is ``status: "failed"`` with code ``server_error``), is a rate
    limit (429); a failed response or error event is a service failure (500); a bare ``{"code": ...}``
    is a refused request (400). The code decides first anyway (see :func:`class_for`).
    """
    inner = obj.get("response")
    response: dict[str, Any] = inner if isinstance(inner, dict) else obj
    nested = response.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else response
    code = error.get("code")
    text_message = error.get("message") if isinstance(error.get("message"), str) else None
    in_band = status is None
    if status is None:
        if (isinstance(code, str) and code.startswith("Throttling")) or says_rate_limit(text_message):
            status = 429
        elif response.get("status") == "failed" or obj.get("type") in ("error", "response.failed") or "error" in obj:
            status = 500
        else:
            status = 400
    rid = obj.get("request_id") or response.get("request_id")
    flat = {"code": code, "message": error.get("message"), "request_id": rid if isinstance(rid, str) else None}
    return read_body(status, flat, request_id=request_id, in_band=in_band)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: a year past any clock
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | None) -> float | None:
    """Seconds in an OpenAI-style duration (``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s``) or a plain number."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _count(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit_wait(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds a refusal asks to wait: its ``Retry-After``; without one, a hint from OpenAI-style
    ``x-ratelimit-*-requests`` headers when the request budget is spent (``remaining`` 0): the time
    one request of it takes to come back, ``reset`` ÷ (``limit`` − ``remaining``), or ``reset`` alone.

    DashScope does not document these headers; an OpenAI-compatible gateway in front of it may send
    them. A budget with requests left is not what refused (the token budget may be): no hint.
    """
    wait = parse_retry_after(headers.get("retry-after"), now=now)
    if wait is not None:
        return wait
    reset = parse_duration(headers.get("x-ratelimit-reset-requests"))
    remaining = _count(headers.get("x-ratelimit-remaining-requests"))
    if reset is None or (remaining is not None and remaining > 0):
        return None
    limit = _count(headers.get("x-ratelimit-limit-requests"))
    spent = limit - (remaining or 0) if limit is not None else 0
    return reset / spent if spent > 0 else reset


ConnectionKind = Literal["tls", "dns", "refused", "other"]


def exception_chain(exc: BaseException) -> list[BaseException]:
    # Causes, contexts and exception groups (anyio reports each address it tried).
    chain: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(chain) < 16:
        cur = todo.pop(0)
        if cur in chain:  # `raise ... from e` in `except ... as e`: e is both cause and context
            continue
        chain.append(cur)
        todo += [e for e in (cur.__cause__, cur.__context__) if e is not None]
        if isinstance(cur, BaseExceptionGroup):
            todo += list(cur.exceptions)
    return chain


def connection_kind(chain: list[BaseException]) -> ConnectionKind:
    """What kind of connection failure an exception chain is: a TLS handshake that fails the same way
    every time, a host name that does not resolve, a refused connection, or something else."""
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        text += " refused"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in text or "certificate" in text:
        return "tls"
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "name or service not known" in text
        or "nodename" in text
        or "name resolution" in text
    ):
        return "dns"
    return "refused" if "refused" in text else "other"
