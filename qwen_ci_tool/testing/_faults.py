"""Faults the emulator injects on demand, one per request.

A :class:`Fault` is plain immutable data built by its classmethod constructors; the server reads
its fields. Every fault applies to whichever endpoint the next request hits, in that endpoint's
own error shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, Literal

__all__ = ["FAULT_NAMES", "QUOTA_RESET_MESSAGE", "Fault", "default_code", "default_message"]

FaultKind = Literal[
    "status",
    "drop",
    "truncate",
    "error_event",
    "stall",
    "pieces",
    "malformed_json",
    "content_type",
    "line_endings",
    "keepalive",
    "empty_body",
    "huge_line",
    "unknown_fields",
    "finish_reason",
    "rate_limit_200",
    "reasoning_summary",
]
StatusLine = Literal["comment", "field", "both", "none"]
Spelling = Literal["event:error", "event: error"]

# The codes the vendor SDK knows, by the status its own error categories give them.
_CODES_BY_STATUS: Final[dict[int, str]] = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "Model.NotExist",
    429: "Throttling.RateQuota",
    500: "InternalError",
    502: "ServiceUnavailable",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

#: The token-plan quota message with its reset time, as captured (the plan's 1-week window).
QUOTA_RESET_MESSAGE: Final = (
    "Your token-plan 1-week quota has been exhausted. The quota will reset at 08-12 14:52:00 UTC."
)

# Messages worded the way the service words them.
_MESSAGES: Final[dict[str, str]] = {
    "InvalidParameter": "The request parameters are invalid.",
    "InvalidApiKey": "Invalid API-key provided.",
    "AccessDenied": "Access denied.",
    "AccessDenied.Unpurchased": "Access to model denied. Please make sure you are eligible for using the model.",
    "Arrearage": "Access denied, please make sure your account is in good standing.",
    "Model.NotExist": "Model not exist.",
    "DataInspectionFailed": "Input or output data may contain inappropriate content.",
    "Throttling": "Requests throttling triggered.",
    "Throttling.RateQuota": "Requests rate limit exceeded, please try again later.",
    "Throttling.AllocationQuota": "Your token-plan quota has been exhausted.",
    "Throttling.ResourceExhausted": "An error occurred in model serving, error message is: [Too many requests.]",
    "Model.AccessDenied": "Model access denied.",
    "InternalError": "An internal error has occured, please try again later or contact service support.",
    "ServiceUnavailable": "The service is temporarily unavailable, please try again later.",
    "GatewayTimeout": "The upstream service timed out, please try again later.",
}


def default_code(status: int) -> str:
    """The DashScope error code the service uses for ``status``."""
    if status in _CODES_BY_STATUS:
        return _CODES_BY_STATUS[status]
    return "InternalError" if status >= 500 else "InvalidParameter"


def default_message(code: str, status: int) -> str:
    """A realistic message for ``code``, falling back on the status phrase."""
    if code in _MESSAGES:
        return _MESSAGES[code]
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return "Request failed."


@dataclass(frozen=True, kw_only=True, slots=True)
class Fault:
    """One injected failure. Build it with a classmethod, e.g. ``Fault.status(429, retry_after="0")``.

    ``after_events`` counts the SSE events written before the fault strikes (0 = before the first);
    a count beyond the stream's length strikes after its last event.
    """

    kind: FaultKind
    status_code: int = 200
    code: str | None = None
    message: str | None = None
    body: str | bytes = "json"
    retry_after: str | None = None
    request_id: str | None = None
    after_events: int | None = 0
    seconds: float = 0.0
    interval: float = 0.0
    sizes: tuple[int, ...] = ()
    spelling: Spelling = "event:error"
    status_line: StatusLine = "both"
    media_type: str = ""
    line_ending: str = "\n"
    every: int = 1
    size: int = 0
    reason: str = "stop"
    streamed: bool = False
    withhold: int = 0

    # -- answers instead of a stream --------------------------------------------------------

    @classmethod
    def status(
        cls,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        body: Literal["json", "html", "empty"] | bytes = "json",
        retry_after: str | None = None,
        request_id: str | None = None,
    ) -> Fault:
        """An HTTP error: ``body`` "json" (the endpoint's error shape), "html" (a gateway page),
        "empty", or raw bytes. ``retry_after`` is sent verbatim (seconds or an HTTP date)."""
        if not 400 <= status <= 599:
            raise ValueError(f"an error status is 4xx or 5xx, not {status}")
        if not isinstance(body, bytes) and body not in ("json", "html", "empty"):
            raise ValueError(f"body must be 'json', 'html', 'empty' or bytes, not {body!r}")
        return cls(
            kind="status",
            status_code=status,
            code=code,
            message=message,
            body=body,
            retry_after=retry_after,
            request_id=request_id,
        )

    @classmethod
    def content_type(cls, value: str = "text/html", body: bytes = b"<html><body>Welcome</body></html>") -> Fault:
        """A 200 whose content type is not an event stream (a captive portal, a misrouted proxy)."""
        return cls(kind="content_type", media_type=value, body=body)

    @classmethod
    def empty_body(cls) -> Fault:
        """A 200 ``text/event-stream`` that ends before its first byte."""
        return cls(kind="empty_body")

    @classmethod
    def rate_limit_200(cls, message: str | None = None, *, streamed: bool = False) -> Fault:
        """The Responses API's rate limit as the vendor documents it: HTTP 200 with a JSON body
        whose ``status`` is ``"failed"``, code ``server_error`` and a rate-limit message.
        ``streamed``: a 200 event stream ending in ``response.failed`` with that body instead.
        The other endpoints get a rate limit as an in-stream error (``Throttling.RateQuota``)."""
        return cls(
            kind="rate_limit_200", status_code=429, code="Throttling.RateQuota", message=message, streamed=streamed
        )

    # -- breaks in the stream ----------------------------------------------------------------

    @classmethod
    def drop(cls, after_events: int = 3) -> Fault:
        """Close the socket mid-stream, without the terminating chunk."""
        return cls(kind="drop", after_events=_count(after_events))

    @classmethod
    def truncate(cls, last: int = 1) -> Fault:
        """End the response cleanly before the stream's last ``last`` events: the body is complete
        as HTTP goes, but the stream lacks its terminator (Chat Completions: ``last=2`` stops after the ``finish_reason`` chunk, before the
        usage chunk and ``[DONE]``; Responses: ``last=1`` before ``response.completed``; native:
        ``last=1`` before the ``stop`` frame)."""
        if last < 1:
            raise ValueError("last must be >= 1")
        return cls(kind="truncate", withhold=last)

    @classmethod
    def error_event(
        cls,
        after_events: int = 3,
        code: str = "InternalError",
        message: str | None = None,
        status: int = 500,
        *,
        spelling: Spelling = "event:error",
        status_line: StatusLine = "comment",
    ) -> Fault:
        """An error inside a 200 stream, then the end of the stream.

        Native frames spell the event ``spelling`` and carry the status as a ``:HTTP_STATUS/<n>``
        comment (as the live service does), a ``status:<n>`` field, both or neither (``status_line``).
        """
        if spelling not in ("event:error", "event: error"):
            raise ValueError(f"spelling must be 'event:error' or 'event: error', not {spelling!r}")
        if status_line not in ("comment", "field", "both", "none"):
            raise ValueError(f"status_line must be comment, field, both or none, not {status_line!r}")
        return cls(
            kind="error_event",
            after_events=_count(after_events),
            code=code,
            message=message,
            status_code=status,
            spelling=spelling,
            status_line=status_line,
        )

    @classmethod
    def stall(cls, after_events: int | None = 2, seconds: float = 60.0) -> Fault:
        """Silence for ``seconds`` (ended early when the emulator stops), then the rest of the
        stream. ``after_events=None`` stalls before the response headers."""
        return cls(kind="stall", after_events=None if after_events is None else _count(after_events), seconds=seconds)

    @classmethod
    def malformed_json(cls, after_events: int = 2) -> Fault:
        """Event number ``after_events + 1`` carries a data line whose JSON is cut in half."""
        return cls(kind="malformed_json", after_events=_count(after_events))

    @classmethod
    def finish_reason(cls, reason: str = "length") -> Fault:
        """End with ``reason`` instead of ``stop`` (Responses: ``response.incomplete``)."""
        return cls(kind="finish_reason", reason=reason)

    # -- awkward but valid framing -------------------------------------------------------------

    @classmethod
    def drip(cls, interval: float = 0.01, chunk: int = 1) -> Fault:
        """Send the stream ``chunk`` bytes at a time, ``interval`` seconds apart."""
        if chunk < 1 or interval < 0:
            raise ValueError("chunk must be >= 1 and interval >= 0")
        return cls(kind="pieces", sizes=(chunk,), interval=interval)

    @classmethod
    def chunks(cls, sizes: list[int] | tuple[int, ...]) -> Fault:
        """Write the stream in HTTP chunks of these byte sizes, cycling through them - to cut inside
        UTF-8 characters, between ``\\r`` and ``\\n``, in the middle of ``data:``."""
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError("sizes must be a non-empty list of positive integers")
        return cls(kind="pieces", sizes=tuple(sizes))

    @classmethod
    def line_endings(cls, ending: str = "\r\n") -> Fault:
        """Every line ends with ``ending`` ("\\r\\n" or "\\r") instead of "\\n"."""
        if ending not in ("\r\n", "\r", "\n"):
            raise ValueError(f"line ending must be '\\r\\n', '\\r' or '\\n', not {ending!r}")
        return cls(kind="line_endings", line_ending=ending)

    @classmethod
    def keepalive(cls, every: int = 1) -> Fault:
        """A ``: keep-alive`` comment block after every ``every`` events."""
        if every < 1:
            raise ValueError("every must be >= 1")
        return cls(kind="keepalive", every=every)

    @classmethod
    def reasoning_summary(cls) -> Fault:
        """Responses API reasoning as ``response.reasoning_summary_text.*`` events (the spelling of
        one version of the vendor's page) instead of ``response.reasoning_text.*``."""
        return cls(kind="reasoning_summary")

    @classmethod
    def huge_line(cls, size: int = 10 * 1024 * 1024) -> Fault:
        """The first reasoning delta is padded to ``size`` characters: one enormous, valid data line."""
        if size < 1:
            raise ValueError("size must be positive")
        return cls(kind="huge_line", size=size)

    @classmethod
    def unknown_fields(cls) -> Fault:
        """Forward compatibility: unknown JSON keys in every event, an unknown SSE field line, and
        one event with an unknown name."""
        return cls(kind="unknown_fields")

    # -- by name, for the ``#fault=<name>`` directive ------------------------------------------

    @classmethod
    def named(cls, name: str) -> Fault:
        """The fault a human asks for by name, e.g. in a question ending ``#fault=drop``.

        Any 4xx/5xx number is an HTTP error with that status.
        """
        if name.isdigit() and len(name) == 3:
            status = int(name)
            return cls.status(status, retry_after="1" if status == 429 else None)
        try:
            return _NAMED[name]
        except KeyError:
            known = ", ".join(sorted(FAULT_NAMES))
            raise ValueError(f"unknown fault {name!r}; known names: {known}, or any 4xx/5xx status") from None


def _count(n: int) -> int:
    if n < 0:
        raise ValueError("after_events must be >= 0")
    return n


_NAMED: Final[dict[str, Fault]] = {
    "drop": Fault.drop(after_events=3),
    "truncate": Fault.truncate(last=2),
    "stall": Fault.stall(after_events=2, seconds=60.0),
    "error_event": Fault.error_event(after_events=3),
    "malformed": Fault.malformed_json(after_events=2),
    "drip": Fault.drip(interval=0.005, chunk=7),
    "chunks": Fault.chunks([1, 2, 3, 5, 8, 13]),
    "crlf": Fault.line_endings("\r\n"),
    "cr": Fault.line_endings("\r"),
    "keepalive": Fault.keepalive(every=1),
    "empty": Fault.empty_body(),
    "html": Fault.content_type(),
    "huge": Fault.huge_line(size=1024 * 1024),
    "unknown": Fault.unknown_fields(),
    "length": Fault.finish_reason("length"),
    "rate_limit_200": Fault.rate_limit_200(),
    "rate_limit_200_stream": Fault.rate_limit_200(streamed=True),
    "reasoning_summary": Fault.reasoning_summary(),
    # Bodies of the live service (PROTOCOL.md, "More from public captures").
    "model_access_denied": Fault.status(403, "Model.AccessDenied"),
    "token_plan_quota": Fault.status(429, "Throttling.AllocationQuota"),
    "token_plan_quota_reset": Fault.status(429, "Throttling.AllocationQuota", QUOTA_RESET_MESSAGE),
    "token_plan_quota_stream": Fault.error_event(
        after_events=0, code="Throttling.AllocationQuota", message=QUOTA_RESET_MESSAGE, status=429
    ),
    "resource_exhausted": Fault.status(429, "Throttling.ResourceExhausted", retry_after="1"),
}

FAULT_NAMES: Final = frozenset(_NAMED)
