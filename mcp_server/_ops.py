"""Who called and what it cost: each run counted in the metrics and logged in one line, by client.

One :class:`Ops` per server (the runtime's ``ops``), shared by the runs (which report through
:meth:`Ops.track_call`) and the HTTP app (``http.routes``, which serves ``/metrics`` and sets the
client name and request id of each request with :func:`serving`, so log lines carry them).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from qwen_ci_tool import CodeInterpreterResult, QwenCIError, Usage

from ._metrics import Metrics

__all__ = ["LOCAL_CLIENT", "CallRecord", "ContextFilter", "Ops", "current_client", "serving"]

logger = logging.getLogger("mcp_server")

#: The client name when no token is required (stdio, or HTTP on loopback without a token).
LOCAL_CLIENT = "local"

_client: contextvars.ContextVar[str] = contextvars.ContextVar("qwen_ci_client", default=LOCAL_CLIENT)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("qwen_ci_request_id", default=None)


def current_client() -> str:
    """The name of the client whose request is being served (``local`` outside HTTP)."""
    return _client.get()


@contextmanager
def serving(client: str, request_id: str) -> Iterator[None]:
    """Within: the request of *client* with *request_id* is being served (for logs, metrics, run owners)."""
    client_token = _client.set(client)
    request_token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(request_token)
        _client.reset(client_token)


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
        if isinstance(error, QwenCIError):
            partial = partial or error.partial
            self.upstream_request_id = error.request_id  # a failure before any event has no partial
        self._set_result("failed", name, partial)

    def cancelled(self, partial: CodeInterpreterResult | None) -> None:
        """Cancelled (client gone, or shutdown); what the partial record had used is counted."""
        self._set_result("cancelled", "", partial)

    def _set_result(self, outcome: str, error: str, result: CodeInterpreterResult | None) -> None:
        self.outcome, self.error = outcome, error
        if result is not None:
            self.usage = result.usage
            self.upstream_request_id = result.request_id or self.upstream_request_id
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
