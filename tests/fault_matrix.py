"""The fault matrix: one row per failure the service or the network can produce, with what
every surface (Python API, MCP tool, LangChain tool) must end with. The README's table is
generated from these rows, and a test keeps the two identical."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from qwen_ci_tool import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    InternalServerError,
    ProtocolError,
    QwenCIError,
    RateLimitError,
    StreamInterruptedError,
)
from qwen_ci_tool.testing import Emulator, Fault


@dataclass(frozen=True)
class Row:
    name: str
    arrange: Callable[[Emulator], None] | None
    error: type[QwenCIError] | None  # None: a result comes back
    partial: bool = False  # the error carries .partial
    attempts: int = 1  # requests the emulator sees (max_retries=1 in the matrix)
    settings: dict[str, Any] = field(default_factory=dict)
    base_url: Callable[[Emulator], str] | None = None  # default: the emulator's
    transport_error: Exception | None = None  # simulated by the transport instead of the emulator
    status: str = "completed"  # for rows that succeed
    kind: str | None = None  # APITimeoutError.kind
    request_id: bool = True  # the server sent a request id before failing
    retryable: bool | None = None  # the error's .retryable: may calling again, unchanged, succeed?

    def __post_init__(self) -> None:
        if (self.error is None) != (self.retryable is None):
            raise ValueError(f"row {self.name!r}: an error row says whether it is retryable; a result row does not")

    @property
    def outcome(self) -> str:
        if self.error is None:
            return f"result, status {self.status}"
        text = self.error.__name__
        if self.kind:
            text += f" (kind {self.kind})"
        return text


def fault(f: Fault, times: int = 5) -> Callable[[Emulator], None]:
    return lambda emu: emu.add_fault(f, times=times)


def _http_date(seconds_from_now: int) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now), usegmt=True)


def _dns_error() -> Exception:
    err = httpx.ConnectError("[Errno -2] Name or service not known")
    err.__cause__ = socket.gaierror(-2, "Name or service not known")
    return err


def _tls_error() -> Exception:
    err = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")
    err.__cause__ = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    return err


def _closed_port(emu: Emulator) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


OPENAI = {"protocol": "openai"}
RESPONSES = {"protocol": "responses"}


def workspace(f: Fault) -> Callable[[Emulator], None]:
    """The fault, answered the way a workspace host (*.maas.aliyuncs.com) shapes its errors."""

    def arrange(emu: Emulator) -> None:
        emu.workspace_host = True
        emu.add_fault(f, times=5)

    return arrange

ROWS: list[Row] = [
    Row("400 InvalidParameter (DashScope body)", fault(Fault.status(400)), BadRequestError, retryable=False),
    Row("401 InvalidApiKey (DashScope body)", fault(Fault.status(401)), AuthenticationError, retryable=False),
    Row("403 AccessDenied (DashScope body)", fault(Fault.status(403)), AuthenticationError, retryable=False),
    Row("404 Model.NotExist (DashScope body)", fault(Fault.status(404)), BadRequestError, retryable=False),
    Row("400 DataInspectionFailed", fault(Fault.status(400, code="DataInspectionFailed")), ContentFilterError, retryable=False),
    Row("429 Throttling, Retry-After in seconds", fault(Fault.status(429, retry_after="0")), RateLimitError, attempts=2, retryable=True),
    Row("429 Throttling, Retry-After as an HTTP date", fault(Fault.status(429, retry_after=_http_date(-5))), RateLimitError, attempts=2, retryable=True),
    Row("500 InternalError (DashScope body)", fault(Fault.status(500)), InternalServerError, attempts=2, retryable=True),
    Row("502 HTML gateway page", fault(Fault.status(502, body="html")), InternalServerError, attempts=2, retryable=True),
    Row("503 ServiceUnavailable", fault(Fault.status(503)), InternalServerError, attempts=2, retryable=True),
    Row("401 (OpenAI body)", fault(Fault.status(401)), AuthenticationError, settings=OPENAI, retryable=False),
    Row("404 (OpenAI body)", fault(Fault.status(404)), BadRequestError, settings=OPENAI, retryable=False),
    Row("429 (OpenAI body)", fault(Fault.status(429, retry_after="0")), RateLimitError, attempts=2, settings=OPENAI, retryable=True),
    Row("500 (OpenAI body)", fault(Fault.status(500)), InternalServerError, attempts=2, settings=OPENAI, retryable=True),
    Row("429 insufficient_quota (OpenAI body): the quota is used up", fault(Fault.status(429, code="insufficient_quota")), RateLimitError, settings=OPENAI, retryable=False),
    Row("400 Arrearage (OpenAI body): the account is in arrears", fault(Fault.status(400, code="Arrearage")), AuthenticationError, settings=OPENAI, retryable=False),
    Row("400 with an empty body", fault(Fault.status(400, body="empty")), BadRequestError, retryable=False),
    Row("connection refused", None, APIConnectionError, attempts=0, base_url=_closed_port, retryable=True),
    Row("DNS failure (simulated by the transport)", None, APIConnectionError, attempts=0, transport_error=_dns_error(), retryable=True),
    Row("TLS failure (simulated by the transport)", None, APIConnectionError, attempts=0, transport_error=_tls_error(), retryable=False),
    Row("stall before the first byte", fault(Fault.stall(after_events=None, seconds=60)), APITimeoutError, kind="idle", request_id=False, settings={"idle_timeout": 0.3}, retryable=True),
    Row("stall mid-stream", fault(Fault.stall(after_events=8, seconds=60)), APITimeoutError, partial=True, kind="idle", settings={"idle_timeout": 0.3}, retryable=True),
    Row("slow drip past the total deadline", fault(Fault.drip(interval=0.02, chunk=16)), APITimeoutError, partial=True, kind="total", settings={"total_timeout": 0.6, "idle_timeout": 5}, retryable=True),
    Row("connection dropped mid-stream", fault(Fault.drop(after_events=8)), StreamInterruptedError, partial=True, retryable=True),
    Row("error event inside a 200 stream", fault(Fault.error_event(after_events=8, code="InternalError", status=500)), InternalServerError, partial=True, retryable=True),
    Row("error event, vendor spelling `event: error`, status field only", fault(Fault.error_event(after_events=8, code="Throttling.RateQuota", status=429, spelling="event: error", status_line="field")), RateLimitError, partial=True, retryable=True),
    Row("malformed JSON", fault(Fault.malformed_json(after_events=8)), ProtocolError, partial=True, retryable=True),
    Row("a 10 MB data line", fault(Fault.huge_line(size=10 * 1024 * 1024), times=1), None),
    Row("wrong content type (HTML with 200)", fault(Fault.content_type()), ProtocolError, retryable=False),
    Row("empty 200 body", fault(Fault.empty_body()), ProtocolError, retryable=True),
    Row("CRLF line endings", fault(Fault.line_endings("\r\n"), times=1), None),
    Row("CR line endings", fault(Fault.line_endings("\r"), times=1), None),
    Row("keep-alive comment lines", fault(Fault.keepalive(), times=1), None),
    Row("unknown fields and event names", fault(Fault.unknown_fields(), times=1), None),
    Row("finish_reason `length`", fault(Fault.finish_reason("length"), times=1), None, status="incomplete"),
    Row("Responses rate limit: HTTP 200 body, `status: failed`, code `server_error` + rate-limit message", fault(Fault.rate_limit_200()), RateLimitError, attempts=2, settings=RESPONSES, retryable=True),
    Row("Responses rate limit as a 200 stream ending in `response.failed`", fault(Fault.rate_limit_200(streamed=True)), RateLimitError, attempts=2, settings=RESPONSES, retryable=True),
    Row("401 `invalid_api_key` (OpenAI body, workspace host: id in `error.id`)", workspace(Fault.status(401)), AuthenticationError, settings=OPENAI, retryable=False),
    Row("400 `invalid_parameter_error` (OpenAI body)", fault(Fault.status(400)), BadRequestError, settings=OPENAI, retryable=False),
    Row("400 `data_inspection_failed` (OpenAI body)", fault(Fault.status(400, code="DataInspectionFailed")), ContentFilterError, settings=OPENAI, retryable=False),
    Row("429 `limit_requests` (OpenAI body)", fault(Fault.status(429, code="limit_requests", retry_after="0")), RateLimitError, attempts=2, settings=OPENAI, retryable=True),
    Row("chat error inside a 200 stream (`data: {\"error\": ...}`)", fault(Fault.error_event(after_events=8, code="InternalError", status=500)), InternalServerError, partial=True, settings=OPENAI, retryable=True),
    Row("chat stream cut after `finish_reason`, before usage and `[DONE]`", fault(Fault.truncate(last=2)), StreamInterruptedError, partial=True, settings=OPENAI, retryable=True),
    Row("Responses stream cut before `response.completed`", fault(Fault.truncate(last=1)), StreamInterruptedError, partial=True, settings=RESPONSES, retryable=True),
    Row("native stream cut before the `stop` frame", fault(Fault.truncate(last=1)), StreamInterruptedError, partial=True, retryable=True),
    Row("native error in a 200, status only in `:HTTP_STATUS/400`", fault(Fault.error_event(after_events=0, code="InvalidParameter", status=400, status_line="comment")), BadRequestError, retryable=False),
    Row("Responses reasoning as `response.reasoning_summary_text.*`", fault(Fault.reasoning_summary(), times=1), None, settings=RESPONSES),
]


def markdown_table() -> str:
    lines = [
        "| fault | outcome | `.retryable` | `.partial` | requests (max_retries=1) |",
        "|---|---|---|---|---|",
    ]
    for row in ROWS:
        attempts = "-" if row.attempts == 0 else str(row.attempts)
        partial = "yes" if row.partial else "-"
        retryable = "-" if row.retryable is None else ("yes" if row.retryable else "no")
        lines.append(f"| {row.name} | {row.outcome} | {retryable} | {partial} | {attempts} |")
    return "\n".join(lines)
