"""Session 36's second core sweep (issue 26): the quiet effects no test held before, across the clients, settings,
errors, results, telemetry, the chat decoder and the plain data types (resources closed at once, blank-vs-absent
values, boundaries, key masking, what a span records); each test fails with the one-line break in its docstring."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwen_ci_tool import (
    APITimeoutError,
    AsyncCodeInterpreter,
    BadRequestError,
    CodeInterpreter,
    ConfigurationError,
    InternalServerError,
)
from qwen_ci_tool import _constants as C
from qwen_ci_tool._accumulator import _apart
from qwen_ci_tool._arguments import invalid_arguments
from qwen_ci_tool._batch import BatchTask
from qwen_ci_tool._classify import ServiceFailure
from qwen_ci_tool._client import _CappedBody, _http_options
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._engine import CallState
from qwen_ci_tool._errors import key_place, protocol_hint, service_error
from qwen_ci_tool._exceptions import error_retryable
from qwen_ci_tool._protocols._chat import ChatDecoder
from qwen_ci_tool._result import CodeInterpreterResult
from qwen_ci_tool._telemetry import _error_type, _input_attributes, _result_attributes, capture_content, output_messages
from qwen_ci_tool._types import SSEEvent, UsageUpdated
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY, FakeClock
from ._frames import native_frame
from ._mock import SSE


def _recorded_byte_iterators(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    aiter_bytes = httpx.Response.aiter_bytes

    def recorded(self: httpx.Response, *args: Any, **kwargs: Any) -> Any:
        made.append(aiter_bytes(self, *args, **kwargs))
        return made[-1]

    monkeypatch.setattr(httpx.Response, "aiter_bytes", recorded)
    return made


async def test_an_async_call_closes_its_response_byte_iterator_before_it_returns(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C02: `await chunks.aclose()` dropped from the async attempt's `finally` (the iterator, left suspended after the
    [DONE] marker, is closed only when the garbage collector hands it to the event loop: a task per layer, and a
    ResourceWarning per layer under trio)."""
    made = _recorded_byte_iterators(monkeypatch)
    # the OpenAI stream ends at its [DONE] marker, read before the end of the body
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url, protocol="openai") as aci:
        assert SEED_ANSWER in (await aci.run(SEED_QUESTION)).answer
    assert len(made) == 1 and made[0].ag_frame is None


async def test_an_async_call_closes_the_byte_iterator_of_an_error_body_cut_at_its_cap(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error body's loop left its iterator suspended at the cap (the bug fixed with this test)."""
    made = _recorded_byte_iterators(monkeypatch)
    emu.add_fault(Fault.status(500, body=b"x" * (C.MAX_ERROR_BODY_BYTES + 4096)))
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=0) as aci:
        with pytest.raises(InternalServerError):
            await aci.run(SEED_QUESTION)
    assert len(made) == 1 and made[0].ag_frame is None


def test_a_blank_key_variable_still_lets_the_key_file_give_the_key(tmp_path: Path) -> None:
    """G16: `if not value.strip() and env.get(KEY_FILE)` -> `if not value and ...` (a key variable holding only
    spaces, as an unset-by-hand `export DASHSCOPE_API_KEY=" "` leaves it, hides the key file: no key at all)."""
    key_file = tmp_path / "key"
    key_file.write_text(PLANTED_KEY + "\n", encoding="utf-8")

    settings = resolve_settings(env={"DASHSCOPE_API_KEY": "  ", "DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})

    assert settings.api_key is not None and settings.api_key.get_secret_value() == PLANTED_KEY
    assert settings.key_source == "DASHSCOPE_API_KEY_FILE_PATH"


def test_a_blank_setting_variable_gives_way_to_the_vendors_variable() -> None:
    """G19: `_from_env`'s `if env.get(var, "").strip():` -> `if env.get(var, ""):` (a blank QWEN_CI_WORKSPACE is
    taken as no workspace and hides DASHSCOPE_WORKSPACE_ID)."""
    settings = resolve_settings(env={"QWEN_CI_WORKSPACE": "  ", "DASHSCOPE_WORKSPACE_ID": "ws-1"})

    assert settings.workspace == "ws-1"


def test_a_text_setting_from_the_environment_is_read_without_its_surrounding_spaces() -> None:
    """G20: `Setting.parse`'s `text = text.strip()` dropped (a workspace pasted with a trailing newline is sent
    with it, and a model name with spaces is refused)."""
    settings = resolve_settings(env={"QWEN_CI_WORKSPACE": " ws-1\n", "QWEN_CI_MODEL": " qwen3-max "})

    assert (settings.workspace, settings.model) == ("ws-1", "qwen3-max")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_extra_parameters_holding_nan_or_infinity_are_refused_before_anything_is_sent(value: float) -> None:
    """G28: `allow_nan=False` dropped from the extra parameters' JSON check (NaN is not JSON: the request body
    would carry it, or fail to be made, at send time instead)."""
    with pytest.raises(ConfigurationError, match="cannot be sent as JSON"):
        resolve_settings(env={}, extra_parameters={"top_p": value})


def test_a_base_url_loses_one_api_suffix_and_keeps_a_gateways_own_path() -> None:
    """G32: the suffix loop's `return text[: -len(suffix)]` -> `text = text[: -len(suffix)]` (a gateway mounted at
    /api/v1 loses its own path too, and every request goes to the gateway's root)."""
    settings = resolve_settings(env={}, base_url="https://gw.example.com/api/v1/compatible-mode/v1")

    assert settings.base_url == "https://gw.example.com/api/v1"


def test_a_retried_failures_args_carry_the_attempts_note_as_its_message_does(emu: Emulator) -> None:
    """E03 (_errors): `err.args = (err.message,)` dropped from `note_attempts` (`err.args[0]`, what a caller or a
    wrapping error reads, still lacks "Gave up after 3 attempts.")."""
    for _ in range(3):
        emu.add_fault(Fault.status(503, "ServiceUnavailable", "busy", retry_after="0"))
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=2) as ci:
        with pytest.raises(InternalServerError) as info:
            ci.run(SEED_QUESTION)
    assert "Gave up after 3 attempts." in info.value.message
    assert info.value.args == (info.value.message,)


def test_a_service_message_ending_in_a_full_stop_is_quoted_with_one() -> None:
    """E05 (_errors): `message.strip().rstrip(".")` -> `message.strip()` ("...: Input is too long..")."""
    err = service_error(ServiceFailure(400, "InvalidParameter", " Input is too long. ", "req-1"))

    assert err.message == "The service returned an error (InvalidParameter, HTTP 400): Input is too long."


def test_a_model_the_documents_disagree_about_says_so_in_its_protocol_advice() -> None:
    """E19 (_errors): `if protocol in info.disputed:` -> `if False:` (the disagreement note is lost)."""
    hint = protocol_hint("qwen3.5-flash", "openai")

    assert hint is not None and "try {protocol:responses}" in hint
    assert "The documents disagree about 'openai'" in hint


def test_a_key_from_the_usual_variable_is_named_as_the_usual_place() -> None:
    """E20 (_errors): `source in (None, C.ENV_API_KEY)` -> `source is None` (a key from DASHSCOPE_API_KEY is named
    as "the DASHSCOPE_API_KEY environment variable", not as each face's own place for the key)."""
    assert key_place("DASHSCOPE_API_KEY") == key_place(None) == "{api_key}"
    assert key_place("QWEN_CI_API_KEY") == "the QWEN_CI_API_KEY environment variable"


@pytest.mark.parametrize(
    ("code", "words"),
    [("Arrearage", "in arrears"), ("insufficient_quota", "quota is used up"), ("Throttling.AllocationQuota", "resets")],
)
def test_a_permanent_quota_or_billing_failure_says_calling_again_will_not_help(code: str, words: str) -> None:
    """E22 (_errors): `if code in _PERMANENT_HINTS:` -> `if False:` (the class's hint: "wait and retry")."""
    err = service_error(ServiceFailure(429, code, "no", "req-1"))

    assert err.hint is not None and words in err.hint and "will not help" in err.hint


def _result(**fields: Any) -> CodeInterpreterResult:
    data: dict[str, Any] = {"answer": "42", "protocol": "responses", "model": "qwen3-max", "status": "completed"}
    return CodeInterpreterResult.from_dict({**data, **fields})


def test_an_exported_notebook_quotes_reasoning_without_its_surrounding_blank_lines() -> None:
    """R24 (_result): the notebook's `step.text.strip().splitlines()` -> `step.text.splitlines()` (empty `> `
    lines around the quoted reasoning)."""
    result = _result(reasoning="\n  I print.\n\n", steps=[{"kind": "reasoning", "text": "\n  I print.\n\n"}])

    cells = result.to_notebook()["cells"]

    assert cells[1]["source"] == ["**Reasoning**\n", "\n", "> I print."]


def test_a_result_without_reasoning_has_no_reasoning_part_in_the_spans_output_messages() -> None:
    """T05 (_telemetry): `if result.reasoning:` -> `if result.reasoning is not None:` (an empty reasoning part)."""
    (message,) = output_messages(_result())

    assert [part["type"] for part in message["parts"]] == ["text"]


@pytest.mark.parametrize("value", [" True\n", "span_only", "SPAN_AND_EVENT"])
def test_content_capture_is_on_for_each_value_the_genai_instrumentations_accept(value: str) -> None:
    """T12/T13 (_telemetry): `.strip()` dropped from `capture_content`, and "span_and_event" dropped from the
    values that turn it on."""
    assert capture_content({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": value}) is True
    assert capture_content({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "no_content"}) is False


def test_a_result_without_answer_text_has_no_empty_text_part_in_the_spans_output_messages() -> None:
    """T17 (_telemetry): `if result.answer:` -> `if result.answer is not None:` (an empty text part)."""
    (message,) = output_messages(_result(answer="", reasoning="thinking"))

    assert [part["type"] for part in message["parts"]] == ["reasoning"]


def test_messages_without_a_system_message_record_no_system_instructions() -> None:
    """T16 (_telemetry): `if system:` -> `if True:` (an empty gen_ai.system_instructions list on every span)."""
    assert set(_input_attributes([{"role": "user", "content": "hi"}])) == {"gen_ai.input.messages"}


def test_a_trio_cancellation_is_recorded_as_cancelled_not_as_an_error_class() -> None:
    """T18 (_telemetry): "Cancelled" (trio's cancellation, as anyio runs on it) dropped from `_error_type`."""
    cancelled = type("Cancelled", (BaseException,), {})

    assert _error_type(cancelled()) == "cancelled"


def test_a_result_with_an_empty_request_id_records_no_response_id() -> None:
    """T20 (_telemetry): `if result.request_id:` -> `is not None` (gen_ai.response.id set to "")."""
    assert "gen_ai.response.id" not in _result_attributes(_result(request_id=""), capture=False)
    assert _result_attributes(_result(request_id="rid-1"), capture=False)["gen_ai.response.id"] == "rid-1"


def test_a_tuple_given_where_text_was_expected_is_named_an_array() -> None:
    """A08 (_arguments): `isinstance(value, list | tuple)` -> `isinstance(value, list)` (a tuple, as a Python caller
    of the LangChain tool may pass, is named by its Python type "tuple")."""
    err = invalid_arguments("ask", [{"type": "string_type", "loc": ("question",), "input": ("a", "b")}], {})

    assert "`question` is an array, the wrong type." in err.message


def test_a_key_echoed_by_the_service_is_masked_in_the_errors_args_too(emu: Emulator) -> None:
    """XE04 (_exceptions): `self.args = (self.message,)` dropped from `_redact` (the key stays in `err.args`, what
    `traceback`, pickling and a wrapping error's `*err.args` carry)."""
    emu.add_fault(Fault.status(400, "InvalidParameter", f"Refused the key {PLANTED_KEY}."))
    with CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0) as ci:
        with pytest.raises(BadRequestError) as info:
            ci.run(SEED_QUESTION)
    assert "Refused the key" in info.value.message
    assert PLANTED_KEY not in repr(info.value.args) and info.value.args == (info.value.message,)


def test_an_exception_of_another_library_is_never_retryable_whatever_its_attributes() -> None:
    """XE08 (_exceptions): `isinstance(error, QwenCIError) and error.retryable` -> `getattr(error, "retryable",
    False)` (another library's error with a truthy `retryable` would be sent again by run_many and the batch)."""
    other = type("OtherError", (Exception,), {"retryable": True})

    assert error_retryable(other()) is False


def test_a_chat_chunk_with_an_empty_usage_object_does_not_reset_the_usage() -> None:
    """H06 (_chat): `if usage:` -> `if usage is not None:` (an empty usage object is a usage of zero tokens,
    which replaces the usage counted so far)."""
    decoder = ChatDecoder("qwen3-max", None)
    frame = b'{"id":"c1","choices":[{"delta":{"content":"hi"}}],"usage":{}}'

    events = decoder.decode(SSEEvent("", frame, None, None))

    assert events and not any(isinstance(event, UsageUpdated) for event in events)


def test_a_calls_total_time_counts_from_sending_the_request() -> None:
    """TM2 (_engine._timings): `total_time=self._clock() - self.started_at` -> `self._clock()` (the clock's
    reading, not the call's duration)."""
    now = [1000.0]
    state = CallState(resolve_settings(api_key="sk-test"), [{"role": "user", "content": "q"}], clock=lambda: now[0])
    state.begin_attempt()
    assert state.check_response(200, httpx.Headers(SSE))
    now[0] += 2.0
    state.feed(native_frame(1, content="done", finish="stop").encode())
    now[0] += 3.0

    timings = state.finish()[-1].result.timings  # type: ignore[union-attr]

    assert (timings.time_to_first_event, timings.total_time) == (2.0, 5.0)


@pytest.mark.parametrize(
    ("segments", "joined"),
    [
        (["", "First.", "", "Then.", ""], "First.\n\nThen."),
        (["a", "\n", "c"], "a\n\n\nc"),
    ],
)
def test_reasoning_segments_are_joined_apart_by_what_the_text_so_far_ends_with(
    segments: list[str], joined: str
) -> None:
    """AP2 (`if text:` -> `if True:`: an empty first or last segment adds a blank line) and AP3 (`tail = (...)[-2:]`
    -> `text[-2:]`: a one-character segment hides the line break before it) in `_accumulator._apart`."""
    assert _apart(segments) == joined


def test_an_event_id_that_is_not_utf8_reads_with_replacement_characters() -> None:
    """Y05 (_types): `value.decode("utf-8", "replace")` -> `value.decode("utf-8")` (reading the id, or the
    event's repr in a debug log, raises UnicodeDecodeError)."""
    event = SSEEvent("", b"{}", b"\xff7", None)

    assert event.id == "\ufffd7"
    assert "id='\ufffd7'" in repr(event)


def test_resolved_settings_cannot_be_changed_after_resolution() -> None:
    """ST1 (_settings): `frozen=True` dropped from `Settings` (a client's settings, shared by every call and by a
    batch's threads, could be changed under them, past the checks that resolved them)."""
    settings = resolve_settings(env={}, api_key="sk-test")

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.model = "qwen3.5-plus"  # type: ignore[misc]


def test_settings_show_whether_a_key_is_set_but_never_the_key() -> None:
    """ST2 (_settings): `'set' if self.api_key else 'missing'` inverted."""
    shown = repr(resolve_settings(env={}, api_key=PLANTED_KEY))

    assert "api_key=set)" in shown and PLANTED_KEY not in shown
    assert "api_key=missing)" in repr(resolve_settings(env={}))


def test_a_batch_call_tells_its_batch_once_that_the_service_began_whatever_the_number_of_events(
    emu: Emulator,
) -> None:
    """CL08: the sync `_run_task`'s `admitted = True` dropped (the batch loop gets a message, and a wakeup, for each
    event of each call instead of one per call)."""
    told: list[object] = []
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        result = ci._run_task(BatchTask("t", SEED_QUESTION), threading.Event(), told.append)
    assert SEED_ANSWER in result.answer and len(told) == 1


async def test_an_async_batch_call_tells_its_batch_once_that_the_service_began(emu: Emulator) -> None:
    """CL19: the async `_run_task`'s `admitted = True` dropped."""
    told: list[object] = []
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url) as aci:
        result = await aci._run_task(BatchTask("t", SEED_QUESTION), told.append)
    assert SEED_ANSWER in result.answer and len(told) == 1


def test_an_error_body_stops_being_read_as_soon_as_it_reaches_its_cap() -> None:
    """CL05: `len(self._body) >= MAX_ERROR_BODY_BYTES` -> `>` (a body of exactly the cap is read on, to its end or
    until the idle timeout when the server then stalls)."""
    body = _CappedBody()
    assert body.add(b"x" * C.MAX_ERROR_BODY_BYTES) is True


def test_a_sync_stream_on_a_transport_without_a_socket_stops_being_read_at_its_total_deadline(
    fake_clock: FakeClock,
) -> None:
    """CL16: the sync attempt's `if state.expired(): raise state.timeout_error("total")` dropped (without a socket
    for the watchdog, as with an injected transport, a stream that never goes idle is read to its end)."""
    sent: list[int] = []

    def keepalives() -> Iterator[bytes]:
        for n in range(50):
            sent.append(n)
            fake_clock.offset += 1.0  # a second between chunks: never idle, always late
            yield b": keep-alive\n\n"

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, content=keepalives())

    with httpx.Client(transport=httpx.MockTransport(reply)) as http:
        with CodeInterpreter(api_key="sk-test", base_url="https://x.test", http_client=http, total_timeout=5) as ci:
            with pytest.raises(APITimeoutError) as info:
                ci.run(SEED_QUESTION)
    assert info.value.kind == "total" and len(sent) <= 6


def test_a_clients_own_connection_pool_does_not_cap_concurrent_streams() -> None:
    """CL18: `max_connections=None` -> `10` (the eleventh concurrent call of a batch or of a server's callers waits
    for a connection, and fails with a pool timeout after the connect timeout)."""
    limits = _http_options()["limits"]

    assert limits.max_connections is None and limits.max_keepalive_connections == 20
