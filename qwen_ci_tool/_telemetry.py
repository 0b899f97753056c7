"""OpenTelemetry for every call: one CLIENT span in the GenAI semantic conventions, and two metrics.

Through ``opentelemetry-api`` only (the core does not depend on it; the ``[otel]``, ``[mcp]`` and
``[langchain]`` extras bring it), loaded by the first call made once something in the process has
imported ``opentelemetry`` (until then no provider can be set, so a call pays no import). With the
API but no SDK configured, its own no-op tracer and meter do nothing (benchmark part 1 measures it).
The span is a child of the current one (the MCP SDK's ``tools/call``, an application's agent span);
content (question, reasoning, code, output, answer) goes into it only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``. The key is never read here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ._exceptions import QwenCIError
from ._protocols._base import text_of
from ._result import CodeInterpreterResult
from ._version import __version__

__all__ = ["CAPTURE_CONTENT_ENV", "OPERATION", "PROVIDER", "CallTelemetry", "capture_content", "output_messages"]

#: ``gen_ai.operation.name`` of a call.
OPERATION = "chat"
#: ``gen_ai.provider.name``: the semantic conventions list no Alibaba Cloud value; "dashscope" is
#: what Alibaba's own instrumentations (LoongSuite, AgentScope, Spring AI Alibaba) report.
PROVIDER = "dashscope"
#: The switch (shared with OpenTelemetry's GenAI instrumentations) for recording content.
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_ON = frozenset({"true", "span_only", "span_and_event"})
#: The name the server-side tool has in message parts (and in LangChain's standard blocks).
CODE_INTERPRETER = "code_interpreter"
RETRY_EVENT = "qwen_ci.retry"
CANCELLED = "cancelled"

_SCOPE = "qwen_ci_tool"
# Bucket boundaries the semantic conventions advise for the two histograms.
_TOKEN_BUCKETS = [4.0**i for i in range(14)]
_DURATION_BUCKETS = [0.01 * 2**i for i in range(14)]


def capture_content(env: Mapping[str, str] = os.environ) -> bool:
    """Whether message and code content may go into spans (off unless the switch says so)."""
    return env.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_ON


class _Api:
    """The tracer and instruments, from whatever providers the application set (or the no-op ones)."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        self.trace = trace
        self.tracer = trace.get_tracer(_SCOPE, __version__)
        meter = metrics.get_meter(_SCOPE, __version__)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )


#: ``False`` until a call finds ``opentelemetry`` imported; then the API, or ``None`` when it cannot
#: be loaded. Setting it to ``None`` turns telemetry off (the benchmark's baseline does).
_api: _Api | bool | None = False


def _load() -> _Api | None:
    global _api
    if _api is False:
        if "opentelemetry" not in sys.modules:
            return None  # nothing could have set a provider yet: look again at the next call
        try:
            _api = _Api()
        except ImportError:
            _api = None
    return _api if isinstance(_api, _Api) else None


def _server(base_url: str) -> dict[str, Any]:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname or "", "server.port": port}


def _input_attributes(messages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    system = [{"type": "text", "content": text_of(m["content"])} for m in messages if m["role"] == "system"]
    chat = [
        {"role": m["role"], "parts": [{"type": "text", "content": text_of(m["content"])}]}
        for m in messages
        if m["role"] != "system"
    ]
    out = {"gen_ai.input.messages": json.dumps(chat, ensure_ascii=False)}
    if system:
        out["gen_ai.system_instructions"] = json.dumps(system, ensure_ascii=False)
    return out


def output_messages(result: CodeInterpreterResult) -> list[dict[str, Any]]:
    """The result as ``gen_ai.output.messages``: reasoning, each code run as a server tool call and
    its response, and the answer."""
    parts: list[dict[str, Any]] = []
    if result.reasoning:
        parts.append({"type": "reasoning", "content": result.reasoning})
    for run in result.code_runs:
        call_id = f"code_run_{run.index}"
        parts.append(
            {
                "type": "server_tool_call",
                "id": call_id,
                "name": CODE_INTERPRETER,
                "server_tool_call": {"type": CODE_INTERPRETER, "code": run.code},
            }
        )
        if run.output is not None:
            parts.append(
                {
                    "type": "server_tool_call_response",
                    "id": call_id,
                    "server_tool_call_response": {"type": CODE_INTERPRETER, "output": run.output},
                }
            )
    if result.answer:
        parts.append({"type": "text", "content": result.answer})
    return [{"role": "assistant", "parts": parts}]


def _result_attributes(result: CodeInterpreterResult, capture: bool) -> dict[str, Any]:
    usage = result.usage
    out: dict[str, Any] = {
        "gen_ai.response.model": result.model,
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.reasoning.output_tokens": usage.reasoning_tokens,
        "qwen_ci.code_interpreter.calls": usage.code_interpreter_calls,
        "qwen_ci.status": result.status,
    }
    if result.request_id:
        out["gen_ai.response.id"] = result.request_id
    if result.finish_reason:
        out["gen_ai.response.finish_reasons"] = (result.finish_reason,)
    if result.timings.time_to_first_event is not None:
        out["gen_ai.response.time_to_first_chunk"] = result.timings.time_to_first_event
    if capture:
        out["gen_ai.output.messages"] = json.dumps(output_messages(result), ensure_ascii=False)
    return out


def _error_type(exc: BaseException) -> str:
    if isinstance(exc, GeneratorExit) or type(exc).__name__ in ("CancelledError", "Cancelled"):
        return CANCELLED  # the caller stopped reading or was cancelled before the end
    return type(exc).__qualname__


class CallTelemetry:
    """The span and metrics of one call: a context manager around the clients' attempt loop.

    Entering starts the span (so it is the child of whatever span is current where the caller
    reads the stream); :meth:`retry` and :meth:`completed` are told by the engine; leaving ends it,
    with the error that ended the call if any. Every method is a no-op when telemetry is off.
    """

    __slots__ = ("_api", "_attributes", "_clock", "_messages", "_result", "_span", "_started")

    def __init__(
        self, model: str, base_url: str, messages: Sequence[Mapping[str, Any]], clock: Callable[[], float]
    ) -> None:
        self._api = _load()
        self._clock = clock
        self._messages = messages
        self._span: Any = None
        self._result: CodeInterpreterResult | None = None
        self._started = 0.0
        self._attributes: dict[str, Any] = {}
        if self._api is not None:
            self._attributes = {
                "gen_ai.operation.name": OPERATION,
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": model,
                **_server(base_url),
            }

    def __enter__(self) -> CallTelemetry:
        api = self._api
        if api is not None and self._span is None:
            self._started = self._clock()
            self._span = span = api.tracer.start_span(
                f"{OPERATION} {self._attributes['gen_ai.request.model']}",
                kind=api.trace.SpanKind.CLIENT,
                attributes=self._attributes,
            )
            if span.is_recording():
                span.set_attribute("gen_ai.request.stream", True)
                if capture_content():
                    span.set_attributes(_input_attributes(self._messages))
        return self

    def retry(self, err: QwenCIError, attempt: int, delay: float) -> None:
        """Attempt *attempt* failed with *err*; the next one starts in *delay* seconds."""
        if self._span is not None:
            self._span.add_event(
                RETRY_EVENT,
                {
                    "error.type": type(err).__qualname__,
                    "qwen_ci.retry.attempt": attempt,
                    "qwen_ci.retry.delay": delay,
                },
            )

    def completed(self, result: CodeInterpreterResult) -> None:
        self._result = result

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        api, span = self._api, self._span
        if api is None or span is None:
            return
        self._span = None
        result = self._result
        failure = None if exc is None or (isinstance(exc, GeneratorExit) and result is not None) else exc
        if result is None and isinstance(failure, QwenCIError):
            result = failure.partial
        metric = dict(self._attributes)
        if result is not None:
            metric["gen_ai.response.model"] = result.model
        if failure is not None:
            metric["error.type"] = _error_type(failure)
        if span.is_recording():
            capture = capture_content()
            if result is not None:
                span.set_attributes(_result_attributes(result, capture))
            if failure is not None:
                span.set_attribute("error.type", metric["error.type"])
                message = failure.message if isinstance(failure, QwenCIError) else None
                span.set_status(api.trace.StatusCode.ERROR, message)
        span.end()
        api.duration.record(max(self._clock() - self._started, 0.0), metric)
        if result is not None:
            usage = result.usage
            api.tokens.record(usage.input_tokens, {**metric, "gen_ai.token.type": "input"})
            api.tokens.record(usage.output_tokens, {**metric, "gen_ai.token.type": "output"})
