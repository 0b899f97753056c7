"""The span and metrics every call emits (qwen_ci_tool._telemetry), through the public clients
against the emulator, read back from the OpenTelemetry SDK's in-memory exporter and reader."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from qwen_ci_tool import AsyncCodeInterpreter, AuthenticationError, CodeInterpreter, StreamInterruptedError, _telemetry
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault
from tests.conftest import PLANTED_KEY
from tests.otel import Otel, assert_no_key

pytestmark = pytest.mark.usefixtures("no_backoff")


async def ask(mode: str, emu: Emulator, question: str = SEED_QUESTION, **settings: Any) -> Any:
    settings = {"api_key": PLANTED_KEY, "base_url": emu.base_url, **settings}
    with anyio.fail_after(20):
        if mode == "sync":
            with CodeInterpreter(**settings) as ci:
                return ci.run(question)
        async with AsyncCodeInterpreter(**settings) as aci:
            return await aci.run(question)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_call_is_one_client_span_in_the_genai_conventions(mode: str, emu: Emulator, otel: Otel) -> None:
    result = await ask(mode, emu, model="qwen3-max")
    span = otel.call_span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat qwen3-max" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "dashscope"
    assert attrs["gen_ai.request.model"] == "qwen3-max"
    assert attrs["gen_ai.response.model"] == result.model
    assert attrs["gen_ai.response.id"] == result.request_id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == result.usage.input_tokens > 0
    assert attrs["gen_ai.usage.output_tokens"] == result.usage.output_tokens > 0
    assert attrs["qwen_ci.code_interpreter.calls"] == result.usage.code_interpreter_calls
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == emu.port
    assert "error.type" not in attrs
    assert_no_key(otel.finished())


async def test_an_answer_cut_by_the_length_limit_has_its_finish_reason_on_the_span(emu: Emulator, otel: Otel) -> None:
    emu.add_fault(Fault.finish_reason("length"))
    result = await ask("async", emu)
    attrs = dict(otel.call_span().attributes or {})
    assert result.status == "incomplete"
    assert attrs["gen_ai.response.finish_reasons"] == ("length",)


async def test_the_span_is_a_child_of_the_current_span(emu: Emulator, otel: Otel) -> None:
    with trace.get_tracer("test").start_as_current_span("agent step") as parent:
        await ask("async", emu)
    span = otel.call_span()
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.context.trace_id == parent.get_span_context().trace_id


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_failure_sets_error_type_and_an_error_status(mode: str, emu: Emulator, otel: Otel) -> None:
    emu.add_fault(Fault.status(401, "InvalidApiKey", "Invalid API-key provided."))
    with pytest.raises(AuthenticationError) as info:
        await ask(mode, emu)
    span = otel.call_span()
    assert span.attributes is not None and span.attributes["error.type"] == "AuthenticationError"
    assert span.status.status_code is StatusCode.ERROR and span.status.description == info.value.message
    assert_no_key(otel.finished())


async def test_a_stream_broken_midway_keeps_the_partial_usage_on_the_span(emu: Emulator, otel: Otel) -> None:
    emu.add_fault(Fault.drop(after_events=20))
    with pytest.raises(StreamInterruptedError) as info:
        await ask("async", emu)
    attrs = dict(otel.call_span().attributes or {})
    assert attrs["error.type"] == "StreamInterruptedError"
    assert info.value.partial is not None and attrs["qwen_ci.status"] == "incomplete"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_each_retry_is_an_event_on_the_one_span(mode: str, emu: Emulator, otel: Otel) -> None:
    emu.add_fault(Fault.status(429, "Throttling", "Requests rate limit exceeded.", retry_after="1"))
    emu.add_fault(Fault.status(503, "InternalError", "busy", retry_after="1"))
    result = await ask(mode, emu, max_retries=2)
    span = otel.call_span()
    retries = [e for e in span.events if e.name == "qwen_ci.retry"]
    assert [dict(e.attributes or {})["error.type"] for e in retries] == ["RateLimitError", "InternalServerError"]
    assert [dict(e.attributes or {})["qwen_ci.retry.attempt"] for e in retries] == [1, 2]
    assert span.status.status_code is StatusCode.UNSET and SEED_ANSWER in result.answer
    assert_no_key([span])


async def test_content_stays_out_of_spans_unless_capture_is_switched_on(
    emu: Emulator, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ask("async", emu)
    attrs = dict(otel.call_span().attributes or {})
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system")) for k in attrs)
    assert SEED_QUESTION not in json.dumps(attrs, default=str)


async def test_with_capture_on_the_span_holds_the_question_the_code_and_the_answer(
    emu: Emulator, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_telemetry.CAPTURE_CONTENT_ENV, "true")
    with anyio.fail_after(20):
        with CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as ci:
            result = ci.run(
                messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": SEED_QUESTION}]
            )
    attrs = dict(otel.call_span().attributes or {})
    assert json.loads(str(attrs["gen_ai.system_instructions"])) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": SEED_QUESTION}]}
    ]
    (message,) = json.loads(str(attrs["gen_ai.output.messages"]))
    calls = [p for p in message["parts"] if p["type"] == "server_tool_call"]
    assert [c["server_tool_call"]["code"] for c in calls] == [run.code for run in result.code_runs]
    assert calls[0]["name"] == "code_interpreter"
    assert message["parts"][-1] == {"type": "text", "content": result.answer}
    assert_no_key(otel.finished())


async def test_duration_and_token_usage_are_recorded_as_histograms(emu: Emulator, otel: Otel) -> None:
    started = time.monotonic()
    result = await ask("async", emu)
    took = time.monotonic() - started
    recorded = otel.histograms()
    (duration,) = recorded["gen_ai.client.operation.duration"]
    assert duration.count == 1 and duration.attributes["gen_ai.request.model"] == result.model
    assert 0.0 < duration.sum <= took  # the call's own seconds, measured inside the caller's
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in recorded["gen_ai.client.token.usage"]}
    assert tokens == {"input": result.usage.input_tokens, "output": result.usage.output_tokens}


async def test_a_failed_call_records_its_duration_with_the_error_type(emu: Emulator, otel: Otel) -> None:
    emu.add_fault(Fault.status(401, "InvalidApiKey", "Invalid API-key provided."))
    with pytest.raises(AuthenticationError):
        await ask("sync", emu)
    recorded = otel.histograms()
    (duration,) = recorded["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "AuthenticationError"
    assert "gen_ai.client.token.usage" not in recorded


async def test_a_stream_closed_before_the_end_ends_its_span_as_cancelled(emu: Emulator, otel: Otel) -> None:
    with anyio.fail_after(20):
        async with AsyncCodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as aci:
            async with aci.stream(SEED_QUESTION) as stream:
                async for _ in stream:
                    break
    span = otel.call_span()
    assert dict(span.attributes or {})["error.type"] == "cancelled"


async def test_without_the_api_a_call_does_no_telemetry(
    emu: Emulator, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_telemetry, "_api", None)  # as when opentelemetry-api is not installed
    result = await ask("sync", emu)
    assert SEED_ANSWER in result.answer and otel.finished() == []


def test_capture_is_off_by_default_and_on_for_true() -> None:
    assert not _telemetry.capture_content({})
    assert not _telemetry.capture_content({_telemetry.CAPTURE_CONTENT_ENV: "false"})
    assert _telemetry.capture_content({_telemetry.CAPTURE_CONTENT_ENV: "True"})


def test_the_readmes_console_exporter_example_prints_the_call_span(emu: Emulator) -> None:
    from tests.test_docs import _run_example

    proc = _run_example("observability.py", emu)
    assert proc.returncode == 0, proc.stderr
    assert '"name": "chat qwen3-max"' in proc.stdout and '"gen_ai.usage.output_tokens": 263' in proc.stdout
    assert '"gen_ai.provider.name": "dashscope"' in proc.stdout and "sk-test" not in proc.stdout


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_each_task_of_a_batch_is_its_own_span_under_the_callers_span(
    mode: str, emu: Emulator, otel: Otel
) -> None:
    tracer = trace.get_tracer("test")
    with anyio.fail_after(30), tracer.start_as_current_span("batch") as parent:
        if mode == "sync":
            with CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as ci:
                outcomes = list(ci.run_many([SEED_QUESTION, SEED_QUESTION], concurrency=2))
        else:
            async with AsyncCodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as aci:
                outcomes = [o async for o in aci.run_many([SEED_QUESTION, SEED_QUESTION], concurrency=2)]
    assert len(outcomes) == 2
    spans = otel.finished("chat ")
    assert len(spans) == 2
    assert all(s.parent is not None and s.parent.span_id == parent.get_span_context().span_id for s in spans)


def _call_in_a_fresh_process(emu: Emulator, prelude: str) -> list[str]:
    script = (
        "import sys\n" + prelude + "\nfrom qwen_ci_tool import CodeInterpreter\n"
        f"print(CodeInterpreter(api_key='sk-test', base_url={emu.base_url!r}).run({SEED_QUESTION!r}).status)\n"
        "print('opentelemetry' in sys.modules and sys.modules['opentelemetry'] is not None)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_a_process_that_never_imports_opentelemetry_pays_no_import(emu: Emulator) -> None:
    assert _call_in_a_fresh_process(emu, "") == ["completed", "False"]


def test_without_opentelemetry_installed_a_call_works(emu: Emulator) -> None:
    blocked = "sys.modules['opentelemetry'] = None  # as if not installed: importing it raises ImportError"
    assert _call_in_a_fresh_process(emu, blocked) == ["completed", "False"]


@pytest.mark.parametrize(
    ("base_url", "host", "port"),
    [
        ("https://dashscope.aliyuncs.com", "dashscope.aliyuncs.com", 443),
        ("http://gateway.test", "gateway.test", 80),
        ("http://gateway.test:8080", "gateway.test", 8080),
    ],
    ids=["https", "http", "explicit"],
)
def test_a_base_url_without_a_port_names_its_schemes_default_port_on_the_span(
    base_url: str, host: str, port: int
) -> None:
    assert _telemetry._server(base_url) == {"server.address": host, "server.port": port}
