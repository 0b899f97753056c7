"""The span's content and the two histograms in the GenAI semantic conventions' exact shape, each pinned by a
test that fails when its line of qwen_ci_tool._telemetry breaks (found by the mutation sweep)."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import __version__, _telemetry
from qwen_ci_tool._telemetry import output_messages
from tests.conftest import FakeClock
from tests.otel import Otel

from ._frames import native_stream, responses_stream
from ._mock import Script, clients, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


async def test_the_output_messages_are_one_assistant_message_whose_parts_follow_the_genai_conventions() -> None:
    result = await run("sync", lambda r: sse_response(responses_stream()), protocol="responses")
    assert output_messages(result) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Let me run it."},
                {
                    "type": "server_tool_call",
                    "id": "code_run_0",
                    "name": "code_interpreter",
                    "server_tool_call": {"type": "code_interpreter", "code": "print(6*7)"},
                },
                {
                    "type": "server_tool_call_response",
                    "id": "code_run_0",
                    "server_tool_call_response": {"type": "code_interpreter", "output": "42\n"},
                },
                {"type": "text", "content": "It is 42."},
            ],
        }
    ]


async def test_captured_content_keeps_non_ascii_text_as_written(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    # A span attribute is read by people in a trace viewer: "✓" must not become "\u2713".
    monkeypatch.setenv(_telemetry.CAPTURE_CONTENT_ENV, "true")
    sync, _ = clients(lambda r: sse_response(native_stream()))
    with sync:
        sync.run(
            messages=[{"role": "system", "content": "Sois bref ✓"}, {"role": "user", "content": "Combien font 123²?"}]
        )
    span = otel.call_span()
    assert span.instrumentation_scope is not None
    assert (span.instrumentation_scope.name, span.instrumentation_scope.version) == ("qwen_ci_tool", __version__)
    attrs = dict(span.attributes or {})
    assert "Sois bref ✓" in str(attrs["gen_ai.system_instructions"])
    assert "Combien font 123²?" in str(attrs["gen_ai.input.messages"])
    assert "Résultat: " in str(attrs["gen_ai.output.messages"]) and "✓" in str(attrs["gen_ai.output.messages"])


async def test_the_histograms_carry_the_conventions_names_units_descriptions_and_advised_buckets(otel: Otel) -> None:
    sync, _ = clients(lambda r: sse_response(native_stream()))
    with sync:
        sync.run("q")
    data = otel.metrics.get_metrics_data()
    assert data is not None
    found = {
        metric.name: (metric.unit, metric.description, list(metric.data.data_points[0].explicit_bounds))
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        if (sm.scope.name, sm.scope.version) == ("qwen_ci_tool", __version__)
        for metric in sm.metrics
    }
    assert found == {
        "gen_ai.client.token.usage": (
            "{token}",
            "Number of input and output tokens used.",
            [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
        ),
        "gen_ai.client.operation.duration": (
            "s",
            "GenAI operation duration.",
            [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
        ),
    }


async def test_the_span_has_the_reasoning_tokens_the_time_to_first_chunk_and_each_retrys_delay(
    otel: Otel, no_backoff: FakeClock
) -> None:
    busy = httpx.Response(503, json={"code": "InternalError", "message": "busy"}, headers={"retry-after": "2"})
    result = await run("sync", Script(busy, lambda: sse_response(native_stream())), max_retries=1)
    span = otel.call_span()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == result.usage.reasoning_tokens == 171
    first = result.timings.time_to_first_event
    assert first is not None and attrs["gen_ai.response.time_to_first_chunk"] == first
    (retry,) = [dict(e.attributes or {}) for e in span.events if e.name == "qwen_ci.retry"]
    assert retry["qwen_ci.retry.delay"] == no_backoff.sleeps[0] > 0
