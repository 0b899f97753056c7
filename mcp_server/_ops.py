"""What an operator needs from a served MCP server: health, readiness, metrics, who called, logs per run.

One :class:`Ops` per server (see :func:`ops_of`), shared by the tools (which report each run through
:meth:`Ops.track_call`) and the HTTP app (:class:`OpsMiddleware`):

- ``GET /healthz``: liveness - 200 while the process serves; no token, no upstream call.
- ``GET /readyz``: readiness - 200, or 503 once shutdown has begun (the server's runtime stops taking
  calls), so a balancer stops sending new calls while calls in flight finish.
- ``GET /metrics``: Prometheus text (``_metrics``), behind the same bearer token as ``/mcp``.
- every other request: the bearer check (client name from the token), a request id (the
  ``X-Request-Id`` a proxy sent, or a new one; echoed in the response), both put in the context of
  the call so that log lines and metrics carry them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qwen_ci_tool import CodeInterpreterResult, QwenCIError, Usage

from ._auth import AUTH_TOKEN_ENV, AUTH_TOKEN_FILE_ENV, Credentials
from ._metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = [
    "HEALTH_PATH",
    "LOCAL_CLIENT",
    "METRICS_PATH",
    "READY_PATH",
    "CallRecord",
    "ContextFilter",
    "Ops",
    "OpsMiddleware",
    "current_client",
    "ops_of",
    "register_ops",
]

logger = logging.getLogger("mcp_server")

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
#: The client name when no token is required (stdio, or HTTP on loopback without a token).
LOCAL_CLIENT = "local"
REQUEST_ID_HEADER = b"x-request-id"
#: A proxy's request id is taken as is when it looks like one; anything else gets a new id.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

_client: contextvars.ContextVar[str] = contextvars.ContextVar("qwen_ci_client", default=LOCAL_CLIENT)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("qwen_ci_request_id", default=None)


def current_client() -> str:
    """The name of the client whose request is being served (``local`` outside HTTP)."""
    return _client.get()


class ContextFilter(logging.Filter):
    """Adds ``client`` and ``request_id`` of the request being served to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "client"):
            record.client = _client.get()
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class CallRecord:
    """One run (an upstream call) as the operator sees it: waiting, running, then one outcome."""

    def __init__(self, metrics: Metrics, client: str, run_id: str | None = None) -> None:
        self._metrics = metrics
        self.client = client
        self.run_id = run_id
        self.started = time.monotonic()
        self.outcome: str | None = None
        self.error = ""
        self.usage: Usage | None = None
        self.upstream_request_id: str | None = None
        self._queued = self._running = False

    def waiting(self) -> None:
        """The call waits for a free upstream slot."""
        if not self._queued and not self._running:
            self._queued = True
            self._metrics.queued.inc()

    def running(self) -> None:
        """The call holds an upstream slot."""
        self._leave_queue()
        if not self._running:
            self._running = True
            self._metrics.in_flight.inc()

    def finished(self, result: CodeInterpreterResult) -> None:
        self._set_result(result.status, "", result)

    def failed(self, error: Exception | str, partial: CodeInterpreterResult | None = None) -> None:
        name = error if isinstance(error, str) else type(error).__name__
        if partial is None and isinstance(error, QwenCIError):
            partial = error.partial
        self._set_result("failed", name, partial)

    def cancelled(self, partial: CodeInterpreterResult | None) -> None:
        """Cancelled (client gone, or shutdown); what the partial record had used is counted."""
        self._set_result("cancelled", "", partial)

    def _set_result(self, outcome: str, error: str, result: CodeInterpreterResult | None) -> None:
        self.outcome, self.error = outcome, error
        if result is not None:
            self.usage = result.usage
            self.upstream_request_id = result.request_id
            self._metrics.record_usage(self.client, result.usage, len(result.code_runs))

    def _leave_queue(self) -> None:
        if self._queued:
            self._queued = False
            self._metrics.queued.dec()

    def _close(self, exc: BaseException | None) -> None:
        self._leave_queue()
        if self._running:
            self._running = False
            self._metrics.in_flight.dec()
        if self.outcome is None:
            if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                self.outcome = "cancelled"
            else:
                self.outcome, self.error = "failed", type(exc).__name__
        seconds = time.monotonic() - self.started
        self._metrics.record_call(self.client, self.outcome, self.error, seconds)
        self._log(seconds)

    def _log(self, seconds: float) -> None:
        usage = self.usage or Usage()
        tokens = {
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "reasoning": usage.reasoning_tokens,
            "total": usage.total_tokens,
        }
        outcome = f"{self.outcome} ({self.error})" if self.error else self.outcome
        logger.log(
            logging.WARNING if self.outcome == "failed" else logging.INFO,
            "call %s: client=%s tokens=%d in %.1f s upstream_request_id=%s",
            outcome,
            self.client,
            usage.total_tokens,
            seconds,
            self.upstream_request_id,
            extra={
                "outcome": self.outcome,
                "error": self.error or None,
                "duration_s": round(seconds, 3),
                "tokens": tokens,
                "upstream_request_id": self.upstream_request_id,
                "run_id": self.run_id,
            },
        )


class Ops:
    """The metrics of one server, and how its runs are counted and logged."""

    def __init__(self) -> None:
        self.metrics = Metrics()

    @contextmanager
    def track_call(self, run_id: str | None = None) -> Iterator[CallRecord]:
        """Count one run from arrival to its outcome, and log one summary line for it."""
        call = CallRecord(self.metrics, _client.get(), run_id)
        try:
            yield call
        except BaseException as exc:
            call._close(exc)
            raise
        else:
            call._close(None)

    def refused(self, error: str) -> None:
        """A call refused before any run started (no key, shutting down, too many runs)."""
        with self.track_call() as call:
            call.failed(error)

    def handle_issued(self, run_id: str) -> None:
        """A call was answered with a run handle (the run goes on, and is logged when it ends)."""
        self.metrics.run_handles.labels(_client.get()).inc()
        logger.info("run handle %s issued: client=%s", run_id, _client.get(), extra={"run_id": run_id})


_registry: weakref.WeakKeyDictionary[MCPServer, Ops] = weakref.WeakKeyDictionary()


def register_ops(server: MCPServer, ops: Ops) -> None:
    _registry[server] = ops


def ops_of(server: MCPServer) -> Ops:
    """The :class:`Ops` of *server* (one is made for a server not built by ``create_server``)."""
    ops = _registry.get(server)
    if ops is None:
        ops = _registry[server] = Ops()
    return ops


def _json(
    status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    data = json.dumps(body).encode()
    return status, data, [(b"content-type", b"application/json"), *headers]


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class OpsMiddleware:
    """The operator's routes, the bearer check and the request's context, in front of the MCP app."""

    def __init__(
        self, app: ASGIApp, ops: Ops, credentials: Credentials | None, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self.app = app
        self.ops = ops
        self.credentials = credentials
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: start-up and shut-down pass straight through
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == HEALTH_PATH:
            await _respond(send, *_json(200, {"status": "ok"}))
            return
        if path == READY_PATH:
            ready = self.ready()
            await _respond(send, *_json(200 if ready else 503, {"status": "ready" if ready else "shutting down"}))
            return
        headers = dict(scope.get("headers", ()))
        client = LOCAL_CLIENT
        if self.credentials is not None:
            found = _bearer_client(self.credentials, headers.get(b"authorization", b""))
            if found is None:
                self.ops.metrics.unauthorized.inc()
                await _respond(send, *_unauthorized(b"authorization" in headers))
                return
            client = found
        if path == METRICS_PATH:
            await _respond(send, 200, self.ops.metrics.exposition(), [(b"content-type", CONTENT_TYPE.encode())])
            return
        presented = headers.get(REQUEST_ID_HEADER, b"")
        request_id = presented.decode() if _REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex
        client_token = _client.set(client)
        request_token = _request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(request_token)
            _client.reset(client_token)


def _bearer_client(credentials: Credentials, header: bytes) -> str | None:
    scheme, _, presented = header.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return credentials.client_for(presented.strip())


def _unauthorized(sent: bool) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    return _json(
        401,
        {
            "error": "invalid_token" if sent else "missing_token",
            "error_description": "Send 'Authorization: Bearer <token>' with a token this server accepts "
            f"(--auth-token or {AUTH_TOKEN_ENV}, or one line of --auth-token-file / {AUTH_TOKEN_FILE_ENV}).",
        },
        [(b"www-authenticate", b'Bearer realm="qwen-ci-mcp", error="invalid_token"')],
    )
