"""Prometheus metrics of one server, in a registry of its own (several servers per process do not clash).

Names start with ``qwen_ci_``. Labels: ``client`` (the token file's name, ``default`` for the single
token, ``local`` without a token), ``outcome`` and ``error`` (the error class; empty unless failed).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from qwen_ci_tool import Usage

__all__ = ["CONTENT_TYPE", "DURATION_BUCKETS", "OUTCOMES", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Seconds: a code-interpreter call takes from a few seconds to minutes.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
#: How a run ended. ``completed``: a full answer; ``incomplete``: the model stopped early; ``failed``:
#: an error (``error`` names its class; ``ShuttingDown``, ``ConfigurationError`` and ``TooManyRuns``
#: are calls refused before a run started); ``cancelled``: the client gave up or the server shut it down.
OUTCOMES = ("completed", "incomplete", "failed", "cancelled")


class Metrics:
    """The server's instruments. Every method is cheap and never raises on a label value."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter(
            "qwen_ci_calls", "Runs (tool calls) finished, by client, outcome and error class.",
            ["client", "outcome", "error"], registry=r,
        )  # fmt: skip
        self.in_flight = Gauge("qwen_ci_calls_in_flight", "Upstream calls running now.", registry=r)
        self.queued = Gauge("qwen_ci_calls_queued", "Calls waiting for a free upstream slot.", registry=r)
        self.duration = Histogram(
            "qwen_ci_call_duration_seconds", "Tool call duration from arrival to answer, by outcome.",
            ["outcome"], buckets=DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "qwen_ci_tokens", "Tokens billed, by client and kind (input, output, reasoning).",
            ["client", "kind"], registry=r,
        )  # fmt: skip
        self.interpreter_runs = Counter(
            "qwen_ci_interpreter_runs", "Code runs in Qwen's sandbox, by client.", ["client"], registry=r
        )
        self.run_handles = Counter(
            "qwen_ci_run_handles", "Run handles issued for calls still going at --max-wait, by client.",
            ["client"], registry=r,
        )  # fmt: skip
        self.run_store_errors = Counter(
            "qwen_ci_run_store_errors", "Failed operations on the shared run store (Redis), by operation.",
            ["operation"], registry=r,
        )  # fmt: skip
        self.run_store_up = Gauge(
            "qwen_ci_run_store_up", "1 while the shared run store answers, 0 after a failure (1 without one).",
            registry=r,
        )  # fmt: skip
        self.run_store_up.set(1)
        self.unauthorized = Counter(
            "qwen_ci_http_unauthorized", "HTTP requests refused for a missing or wrong bearer token.", registry=r
        )

    def record_usage(self, client: str, usage: Usage, code_runs: int) -> None:
        for kind, value in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            self.tokens.labels(client, kind).inc(max(value, 0))
        # The service's own count where it reports one, else the code runs seen in the stream (never below 0).
        self.interpreter_runs.labels(client).inc(max(usage.code_interpreter_calls, code_runs))

    def record_call(self, client: str, outcome: str, error: str, seconds: float) -> None:
        self.calls.labels(client, outcome, error).inc()
        self.duration.labels(outcome).observe(max(seconds, 0.0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
