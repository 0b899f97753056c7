"""The exception tree. Every error says what happened and what to do about it.

```
QwenCIError                     root: catch this to catch everything the library raises
 ├─ ConfigurationError          no key, bad base_url, bad parameters - raised before any request
 ├─ APIStatusError              the service answered with an error (status_code, code, message, request_id)
 │   ├─ AuthenticationError     401/403, InvalidApiKey, AccessDenied, a key from another region
 │   ├─ RateLimitError          429, Throttling*, a Responses stream that failed on a rate limit
 │   ├─ BadRequestError         400/404, InvalidParameter, unknown model, feature not available
 │   ├─ ContentFilterError      DataInspectionFailed: moderation rejected the input or the output
 │   └─ InternalServerError     5xx, InternalError, ServiceUnavailable
 ├─ APIConnectionError          could not reach the service (refused, DNS, TLS, dropped before any event)
 │   └─ APITimeoutError         .kind is "connect", "idle" or "total"
 ├─ StreamInterruptedError      the stream broke after it started
 └─ ProtocolError               the stream was not what the protocol promises (bad JSON, wrong content type)
```

Every error has ``retryable``: whether calling again, unchanged, may succeed. It is decided here,
once: by class (connection failures, timeouts, interrupted streams, 5xx and rate limits: yes; bad
configuration, key, request, model or content: no) and, where the service's code says more than
its status, by code (``insufficient_quota``, ``Throttling.AllocationQuota`` and ``Arrearage`` are
not transient, although the first two are 429s). The client's own retry loop and every surface (CLI, MCP tool, LangChain tool) follow it.

Errors raised after the first event carry ``.partial``: the :class:`CodeInterpreterResult` as far
as it got (status ``"incomplete"``). Every error carries ``request_id`` when the service sent one.
No message ever contains the API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._knobs import PYTHON, Knobs

if TYPE_CHECKING:
    from ._result import CodeInterpreterResult

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentFilterError",
    "InternalServerError",
    "ProtocolError",
    "QwenCIError",
    "RateLimitError",
    "StreamInterruptedError",
    "error_retryable",
]

#: Service codes that mean "calling again will not help", whatever their status says: the quota is
#: used up (a 429: ``insufficient_quota`` on Chat Completions, ``Throttling.AllocationQuota`` on
#: token-plan hosts, until the plan's quota resets) or the account is in arrears (a 400 or 403).
PERMANENT_CODES = frozenset({"insufficient_quota", "Throttling.AllocationQuota", "Arrearage"})


class QwenCIError(Exception):
    """Root of every error raised by qwen_ci_tool."""

    #: The class's answer to "may calling again, unchanged, succeed?"; see :attr:`retryable`.
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        request_id: str | None = None,
        partial: CodeInterpreterResult | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        #: What happened.
        self.message = message
        #: What to do, with settings as placeholders (``{idle_timeout}``): :meth:`advice` renders it
        #: for one surface, so the CLI names its flags and the MCP server its configuration.
        self.hint = hint
        self.request_id = request_id
        #: The result as far as the stream got, when the error came after the first event.
        self.partial = partial
        #: Whether calling again, unchanged, may succeed (the class's answer unless the cause says more).
        self.retryable: bool = type(self).transient if retryable is None else retryable

    def advice(self, knobs: Knobs = PYTHON) -> str | None:
        """What to do, naming the settings as *knobs* spells them (the Python API's by default)."""
        return knobs.render(self.hint) if self.hint else None

    def describe(self, knobs: Knobs = PYTHON) -> str:
        """What happened, what to do (in *knobs*' terms) and the request id, in one line."""
        advice = self.advice(knobs)
        text = f"{self.message} {advice}" if advice else self.message
        if self.request_id and self.request_id not in text:
            text += f" (request id: {self.request_id})"
        return text

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, request_id={self.request_id!r})"

    def _redact(self, secret: Any) -> None:
        """Mask *secret* (a :class:`Secret`) wherever this error could show it."""
        self.message = secret.redact(self.message)
        self.args = (self.message,)


class ConfigurationError(QwenCIError):
    """Raised before any request: missing key, bad base URL, unsupported parameters."""


class APIStatusError(QwenCIError):
    """The service answered with an error, as an HTTP status or as an error event in a 200 stream."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        service_message: str | None = None,
        hint: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        partial: CodeInterpreterResult | None = None,
    ) -> None:
        retryable = False if code in PERMANENT_CODES else None
        super().__init__(message, hint=hint, request_id=request_id, partial=partial, retryable=retryable)
        self.status_code = status_code
        #: The service's error code, e.g. ``"InvalidApiKey"`` or ``"Throttling.RateQuota"``.
        self.code = code
        #: The service's own message, unedited.
        self.service_message = service_message
        #: Seconds the service asked to wait (``Retry-After``), when it said.
        self.retry_after = retry_after

    def _redact(self, secret: Any) -> None:
        super()._redact(secret)
        if self.service_message is not None:  # an error body may echo the key it was sent
            self.service_message = secret.redact(self.service_message)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code}, "
            f"code={self.code!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(APIStatusError):
    """401/403: the key is wrong, from another region, or has no access to the model
    (``AccessDenied``, ``Model.AccessDenied``: the key was accepted, the model is not enabled for it)."""


class RateLimitError(APIStatusError):
    """429 or Throttling*: wait (``retry_after``) and try again, or lower concurrency.
    ``insufficient_quota`` and ``Throttling.AllocationQuota`` (the quota is used up) are 429s too,
    but not retryable."""

    transient = True


class BadRequestError(APIStatusError):
    """400/404: the request was refused (parameters, model name, feature not available)."""


class ContentFilterError(APIStatusError):
    """DataInspectionFailed: content moderation rejected the input or the output."""


class InternalServerError(APIStatusError):
    """5xx: the service failed; retrying later usually helps."""

    transient = True


class APIConnectionError(QwenCIError):
    """The service could not be reached, or the connection broke before any of the answer arrived.
    Retryable, except a TLS certificate that does not verify (calling again fails the same way)."""

    transient = True


class APITimeoutError(APIConnectionError):
    """A timeout fired. ``kind`` names which one: ``"connect"``, ``"idle"`` or ``"total"``."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        hint: str | None = None,
        request_id: str | None = None,
        partial: CodeInterpreterResult | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, hint=hint, request_id=request_id, partial=partial, retryable=retryable)
        self.kind = kind


class StreamInterruptedError(QwenCIError):
    """The stream broke after it had started; ``partial`` holds what arrived."""

    transient = True


class ProtocolError(QwenCIError):
    """The reply was not what the protocol promises (wrong content type, malformed JSON, empty stream).
    Retryable (a glitch), except a reply that is not an event stream at all (check ``base_url``)."""

    transient = True


def error_retryable(error: BaseException) -> bool:
    """Whether calling again, unchanged, may succeed: :attr:`QwenCIError.retryable`, decided once,
    here. Anything else a call raised is a bug: not retryable. (The one predicate: ``run_many``, the
    batch command and the LangChain tool's ``is_retryable`` all ask it.)"""
    return isinstance(error, QwenCIError) and error.retryable
