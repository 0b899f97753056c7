"""Pure mapping from what the service said to the exception a caller gets.

One place decides the class (by the service's error code first, then by HTTP status) and one
place writes the hint that tells the user what to do.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Any

from ._constants import ENV_API_KEY, REGION_ROOTS
from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    InternalServerError,
    RateLimitError,
)
from ._models import known_model_names, native_path_advice, protocol_advice

__all__ = ["ErrorContext", "error_from_body", "failure_error", "parse_retry_after", "status_error"]

_BY_CODE: dict[str, type[APIStatusError]] = {
    "InvalidApiKey": AuthenticationError,
    "AccessDenied": AuthenticationError,
    "AccessDenied.Unpurchased": AuthenticationError,
    "Arrearage": AuthenticationError,
    "InvalidParameter": BadRequestError,
    "Model.NotExist": BadRequestError,
    "model_not_found": BadRequestError,
    "invalid_request_error": BadRequestError,
    "invalid_parameter_error": BadRequestError,
    "DataInspectionFailed": ContentFilterError,
    "data_inspection_failed": ContentFilterError,
    "Throttling": RateLimitError,
    "Throttling.RateQuota": RateLimitError,
    "Throttling.AllocationQuota": RateLimitError,
    "Throttling.User": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "insufficient_quota": RateLimitError,
    "invalid_api_key": AuthenticationError,
    "limit_requests": RateLimitError,
    "internal_error": InternalServerError,
    "server_error": InternalServerError,
    "service_unavailable": InternalServerError,
    "InternalError": InternalServerError,
    "InternalError.Algo": InternalServerError,
    "ServiceUnavailable": InternalServerError,
    "GatewayTimeout": InternalServerError,
}


def says_rate_limit(message: str | None) -> bool:
    """The Responses API reports a rate limit as code ``server_error``: only its message tells."""
    return isinstance(message, str) and "rate limit" in message.lower()


def _class_for(status: int, code: str | None) -> type[APIStatusError]:
    if code:
        if code in _BY_CODE:
            return _BY_CODE[code]
        if code.startswith("Throttling"):
            return RateLimitError
        if code.startswith("DataInspection"):
            return ContentFilterError
        if code.startswith(("InvalidApiKey", "AccessDenied")):
            return AuthenticationError
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return InternalServerError
    return BadRequestError


class ErrorContext:
    """What the client knows that makes a hint precise: where it sent what."""

    __slots__ = ("base_url", "model", "protocol", "region")

    def __init__(self, *, base_url: str, model: str, protocol: str, region: str | None) -> None:
        self.base_url = base_url
        self.model = model
        self.protocol = protocol
        self.region = region


def _other_region(ctx: ErrorContext) -> str:
    if ctx.region == "singapore" or ctx.base_url == REGION_ROOTS["singapore"]:
        return "beijing"
    return "singapore"


def _hint(cls: type[APIStatusError], status: int, code: str | None, ctx: ErrorContext | None) -> str:
    if cls is AuthenticationError:
        if code == "Arrearage":
            return "The Model Studio account is overdue: top it up in the console."
        if code and code.startswith("AccessDenied"):
            advice = protocol_advice(ctx.model, ctx.protocol) if ctx is not None else None
            if advice:
                return advice
            return (
                f"The key has no access to model {ctx.model!r} or to the code interpreter: "
                "enable the model for this key/workspace in the Model Studio console."
                if ctx
                else "The key has no access to this model or feature."
            )
        where = ""
        if ctx is not None:
            other = _other_region(ctx)
            where = (
                f" Keys are per region: this request went to {ctx.base_url}; a key from the "
                f"{other.capitalize()} region needs region={other!r} (CLI: --region {other})."
            )
        return f"Check the API key in {ENV_API_KEY} (or api_key=).{where}"
    if cls is RateLimitError:
        if code == "insufficient_quota":
            return "The quota is used up: calling again will not help. Buy more quota or wait for it to reset in the Model Studio console."
        return "Rate or quota limit reached: wait and retry, lower the number of concurrent calls, or raise max_retries."
    if cls is ContentFilterError:
        return "Content moderation rejected the input or the answer: rephrase the question."
    if cls is InternalServerError:
        return "The service failed on its side; retry later."
    # BadRequestError
    advice = protocol_advice(ctx.model, ctx.protocol) if ctx is not None else None
    if advice:
        return advice
    if code in ("Model.NotExist", "model_not_found") or status == 404:
        known = ", ".join(known_model_names(ctx.protocol if ctx else None))
        model = f" {ctx.model!r}" if ctx else ""
        region = f" in this region ({ctx.base_url})" if ctx else ""
        return f"The model{model} does not exist{region}. Known models with the code interpreter: {known}."
    if ctx is not None:
        return (
            f"The service refused the request for model {ctx.model!r} over protocol {ctx.protocol!r}. "
            "The code interpreter needs a model that supports it (see the README's model table), "
            "thinking mode and streaming; qwen3-max-preview is the model of the original release."
        )
    return "The service refused the request: check the model and parameters."


def status_error(
    status: int,
    code: str | None,
    message: str | None,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    context: ErrorContext | None = None,
) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass with a message that says what to do."""
    cls = _class_for(status, code)
    if cls is InternalServerError and says_rate_limit(message):
        cls = RateLimitError
    what = message.strip().rstrip(".") if message else "no message"
    label = f"{code}, HTTP {status}" if code else f"HTTP {status}"
    hint = _hint(cls, status, code, context)
    if cls is BadRequestError and context is not None and context.protocol == "dashscope" and "url error" in (message or ""):
        hint = native_path_advice(context.model)  # the text-generation/multimodal path did not match
    text = f"The service returned an error ({label}): {what}. {hint}"
    if retry_after is not None and cls is RateLimitError:
        text += f" The service asked to wait {retry_after:g} s."
    return cls(
        text,
        status_code=status,
        code=code,
        service_message=message,
        request_id=request_id,
        retry_after=retry_after,
    )


def _describe_non_json(body: bytes, content_type: str) -> str:
    text = body[:2000].decode("utf-8", "replace")
    if "html" in content_type.lower() or text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "the reply was an HTML page, not the service's JSON (a gateway or proxy answered; check base_url and any proxy)"
    snippet = " ".join(text.split())[:200]
    return f"the reply was not JSON: {snippet!r}" if snippet else "the reply had an empty body"


def error_from_body(
    status: int,
    body: bytes | dict[str, Any],
    *,
    content_type: str = "application/json",
    request_id: str | None = None,
    retry_after: float | None = None,
    context: ErrorContext | None = None,
) -> APIStatusError:
    """Map an error body of any of the service's shapes (or none) to an exception.

    Shapes: DashScope/Responses flat ``{"code","message","request_id"}``; OpenAI nested
    ``{"error": {"message","type","code"}, "request_id"}``; a Responses ``response.failed``
    object ``{"status": "failed", "error": {"code","message"}}``; anything else (HTML, empty).
    """
    data: Any = body
    if isinstance(body, bytes):
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return status_error(
                status,
                None,
                _describe_non_json(body, content_type),
                request_id=request_id,
                retry_after=retry_after,
                context=context,
            )
    assert isinstance(data, dict)
    rid = data.get("request_id")
    inner = data.get("error")
    if not (isinstance(rid, str) and rid) and isinstance(inner, dict):
        rid = inner.get("id")  # a workspace host (*.maas.aliyuncs.com) puts the request id here
    rid = rid if isinstance(rid, str) and rid else request_id
    if isinstance(inner, dict):
        code = inner.get("code") or inner.get("type")
        message = inner.get("message")
    else:
        code = data.get("code")
        message = data.get("message") if isinstance(data.get("message"), str) else None
    code = str(code) if code not in (None, "") else None
    return status_error(
        status, code, message, request_id=rid, retry_after=retry_after, context=context
    )


def failure_error(
    obj: dict[str, Any],
    *,
    status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    context: ErrorContext | None = None,
) -> APIStatusError:
    """A failure reported inside a success (HTTP 200): a Responses ``response.failed`` or ``error``
    event, or a JSON error body that came with 200 instead of an event stream.

    Without an explicit status: a throttling code, or a message saying "rate limit" (the vendor's
    documented Responses rate limit is ``status: "failed"`` with code ``server_error``), is a rate
    limit (429); a failed response or error event is a service failure (500); a bare ``{"code": ...}`` is a
    refused request (400). The code decides first anyway (see :func:`status_error`).
    """
    inner = obj.get("response")
    response: dict[str, Any] = inner if isinstance(inner, dict) else obj
    nested = response.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else response
    code = error.get("code")
    text_message = error.get("message") if isinstance(error.get("message"), str) else None
    if status is None:
        if (isinstance(code, str) and code.startswith("Throttling")) or says_rate_limit(text_message):
            status = 429
        elif response.get("status") == "failed" or obj.get("type") in ("error", "response.failed") or "error" in obj:
            status = 500
        else:
            status = 400
    rid = obj.get("request_id") or response.get("request_id")
    flat = {"code": code, "message": error.get("message"), "request_id": rid if isinstance(rid, str) else None}
    return error_from_body(status, flat, request_id=request_id, retry_after=retry_after, context=context)


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
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds)
