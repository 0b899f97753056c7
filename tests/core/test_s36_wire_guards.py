"""Quiet and boundary effects of the wire layer (issue 26, sweep s36-wire): the engine's clamps,
header fallbacks and keep-the-first fields, the classifier's bounds, the SSE parser's bounded tables,
the watchdog's and the streams' releases. Each test fails when its one line breaks (checked by hand)."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from qwen_ci_tool import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    QwenCIError,
    RateLimitError,
    StreamInterruptedError,
    _sse,
)
from qwen_ci_tool import _constants as C
from qwen_ci_tool._accumulator import segment_separator
from qwen_ci_tool._classify import parse_retry_after, rate_limit_wait, read_body
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._engine import CallState
from qwen_ci_tool._protocols._base import MalformedJSON, loads
from qwen_ci_tool._protocols._chat import ChatDecoder
from qwen_ci_tool._proxy import proxy_variable
from qwen_ci_tool._sse import SSEParser
from qwen_ci_tool._stages import StageTracker
from qwen_ci_tool._types import AnswerDelta, ReasoningDelta, SSEEvent
from qwen_ci_tool._watchdog import Watchdog

from ._frames import native_frame, responses_event
from ._mock import MODES, SSE, Script, clients, run, sse_response
from .test_watchdog import _blocked_read_returns, _Response

pytestmark = pytest.mark.usefixtures("no_backoff")

_JSON = {"content-type": "application/json"}


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(clock: _Clock, **settings: Any) -> CallState:
    settings.setdefault("api_key", "sk-test")
    return CallState(resolve_settings(**settings), [{"role": "user", "content": "q"}], clock=clock)


# --- the engine ------------------------------------------------------------------------------


def test_an_attempt_past_its_total_deadline_still_gets_positive_httpx_timeouts() -> None:
    clock = _Clock()
    state = _state(clock, total_timeout=10)
    clock.now += 25  # the deadline passed 15 s ago
    timeout = state.timeout()
    assert min(timeout.connect or 0, timeout.read or 0, timeout.write or 0, timeout.pool or 0) > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("headers", "request_id"),
    [
        ({"x-dashscope-request-id": "ds-hdr-rid"}, "ds-hdr-rid"),
        # The service's x-request-id (PROTOCOL.md) names the request; x-dashscope-request-id is the fallback.
        ({"x-request-id": "rid-main", "x-dashscope-request-id": "rid-other"}, "rid-main"),
    ],
    ids=["dashscope-header-only", "both-headers"],
)
async def test_an_error_reply_without_a_request_id_takes_it_from_the_headers(
    mode: str, headers: dict[str, str], request_id: str
) -> None:
    reply = httpx.Response(
        400, headers={**_JSON, **headers}, content=b'{"code": "InvalidParameter", "message": "bad input"}'
    )
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.request_id == request_id


@pytest.mark.parametrize("mode", MODES)
async def test_a_300_reply_is_an_error_even_with_an_event_stream_content_type(mode: str) -> None:
    body = native_frame(1, content="fine", finish="stop").encode()
    reply = httpx.Response(300, headers=SSE, content=body)
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.status_code == 300


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_reply_with_an_error_field_even_null_is_a_service_error(mode: str) -> None:
    reply = httpx.Response(200, headers=_JSON, content=b'{"error": null, "message": "the service failed"}')
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "the service failed" in info.value.message


def test_time_to_first_event_counts_from_the_first_metadata_frame_not_a_later_one() -> None:
    clock = _Clock()
    state = _state(clock)
    state.begin_attempt()
    assert state.check_response(200, httpx.Headers(SSE))
    clock.now += 1.0
    assert state.feed(native_frame(1).encode()) == []  # metadata only: held back
    clock.now += 2.0
    assert state.feed(native_frame(2).encode()) == []
    clock.now += 3.0
    state.feed(native_frame(3, content="done", finish="stop").encode())
    result = state.finish()[-1].result
    assert result.timings.time_to_first_event == pytest.approx(1.0)


def test_an_error_that_carries_its_own_partial_result_keeps_it_when_translated() -> None:
    clock = _Clock()
    state = _state(clock)
    state.begin_attempt()
    state.check_response(200, httpx.Headers(SSE))
    state.feed(native_frame(1, content="half").encode())
    assert state.committed
    own = state.snapshot()
    err = QwenCIError("broke", partial=own)
    assert state.translate(err) is err
    assert err.partial is own


def _rate_limited(retry_after: float) -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=retry_after)


def test_a_retry_after_of_exactly_the_longest_honoured_wait_is_still_waited() -> None:
    clock = _Clock()
    state = _state(clock, total_timeout=C.MAX_RETRY_AFTER * 3, max_retries=2)
    state.begin_attempt()
    assert state.retry_delay(_rate_limited(C.MAX_RETRY_AFTER)) == C.MAX_RETRY_AFTER
    assert state.retry_delay(_rate_limited(C.MAX_RETRY_AFTER + 0.5)) is None


def test_a_retry_that_would_wait_exactly_the_time_left_is_not_made() -> None:
    clock = _Clock()
    state = _state(clock, total_timeout=10, max_retries=2)
    state.begin_attempt()
    assert state.retry_delay(_rate_limited(10.0)) is None
    assert state.retry_delay(_rate_limited(9.5)) == 9.5


def test_a_write_timeout_is_reported_as_a_connect_timeout_not_an_idle_one() -> None:
    state = _state(_Clock())
    state.begin_attempt()
    err = state.translate(httpx.WriteTimeout("write timed out"))
    assert isinstance(err, APITimeoutError)
    assert err.kind == "connect"


def test_an_idle_timeout_names_the_idle_limit_in_seconds_not_the_connect_one() -> None:
    state = _state(_Clock(), idle_timeout=37, connect_timeout=4)
    state.begin_attempt()
    err = state.translate(httpx.ReadTimeout("read timed out"))
    assert isinstance(err, APITimeoutError)
    assert "37 s" in err.message and "4 s" not in err.message


def test_the_final_error_keeps_the_transport_failure_as_its_cause() -> None:
    state = _state(_Clock(), max_retries=0)
    state.begin_attempt()
    cause = httpx.ConnectError("connection refused")
    with pytest.raises(APIConnectionError) as info:
        state.after_failure(cause)
    assert info.value.__cause__ is cause


def test_nothing_is_retried_once_content_was_committed_to_the_caller() -> None:
    state = _state(_Clock(), max_retries=3, total_timeout=100)
    state.begin_attempt()
    state.check_response(200, httpx.Headers(SSE))
    state.feed(native_frame(1, content="seen").encode())
    assert state.committed
    assert state.retry_delay(_rate_limited(1.0)) is None


# --- the classifier ---------------------------------------------------------------------------


def test_a_non_json_error_body_is_quoted_to_at_most_two_hundred_characters() -> None:
    failure = read_body(502, b"x" * 500, content_type="text/plain")
    assert failure.message is not None
    assert "x" * 200 in failure.message and "x" * 201 not in failure.message


def test_an_empty_request_id_gives_way_to_the_workspace_hosts_inner_error_id() -> None:
    failure = read_body(400, {"request_id": "", "error": {"id": "inner-rid", "message": "m"}})
    assert failure.request_id == "inner-rid"


def test_an_empty_error_code_is_read_as_no_code() -> None:
    assert read_body(400, {"code": "", "message": "m"}).code is None


def test_a_negative_or_past_retry_after_is_no_wait_rather_than_a_negative_one() -> None:
    assert parse_retry_after("-5") == 0.0
    now = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 06 Dec 2026 11:59:00 GMT", now=now) == 0.0


def test_a_nonsense_negative_request_limit_falls_back_to_the_whole_reset() -> None:
    headers = {
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-limit-requests": "-3",
    }
    assert rate_limit_wait(headers) == 6.0


# --- the SSE parser ---------------------------------------------------------------------------


def test_the_table_of_decoded_event_names_stays_bounded_however_many_names_a_stream_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_sse, "_NAMES", {})
    parser = SSEParser()
    names = [f"kind-{i}" for i in range(400)]
    events = parser.feed("".join(f"event: {name}\ndata: {{}}\n\n" for name in names).encode())
    assert [e.event for e in events] == names
    assert len(_sse._NAMES) <= 256


def test_a_long_event_name_is_decoded_but_not_kept_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sse, "_NAMES", {})
    name = "n" * 65
    (event,) = SSEParser().feed(f"event: {name}\ndata: {{}}\n\n".encode())
    assert event.event == name
    assert _sse._NAMES == {}


# --- the watchdog -----------------------------------------------------------------------------


def test_the_watchdog_forgets_a_cancelled_watch_instead_of_holding_it_until_its_deadline() -> None:
    dog = Watchdog()
    far_a, far_b = socket.socketpair()
    near_a, near_b = socket.socketpair()
    try:
        far = dog.watch(_Response(far_a), 3600)  # type: ignore[arg-type]
        assert far is not None
        far.cancel()  # the call ended long before its deadline
        dog.watch(_Response(near_a), 0.0)  # type: ignore[arg-type]
        assert _blocked_read_returns(near_a)  # the near deadline was served
        quiet = threading.Event()
        for _ in range(500):  # bounded: the thread drops the cancelled watch once it is at the head
            with dog._cond:
                if not dog._heap:
                    break
            quiet.wait(0.01)
        with dog._cond:
            assert dog._heap == []
    finally:
        for s in (far_a, far_b, near_a, near_b):
            s.close()


# --- proxies from the environment -------------------------------------------------------------


def test_all_proxy_is_blamed_first_when_several_proxy_variables_are_set() -> None:
    env = {"HTTP_PROXY": "http://h:1", "HTTPS_PROXY": "http://s:2", "ALL_PROXY": "http://a:3"}
    assert proxy_variable(env) == ("ALL_PROXY", "http://a:3")


def test_a_stage_repeated_by_the_next_event_is_not_a_new_stage_and_not_counted() -> None:
    tracker = StageTracker()
    assert tracker.update(ReasoningDelta("a")) == "thinking"
    assert tracker.update(ReasoningDelta("b")) is None
    assert tracker.update(AnswerDelta("c")) == "answering"
    assert tracker.count == 2


# --- the streams ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_the_final_result_of_a_stream_that_broke_raises_the_error_it_broke_with(mode: str) -> None:
    def reply() -> httpx.Response:
        return sse_response(native_frame(1, content="half"), error=httpx.RemoteProtocolError("cut"))

    sync, asyn = clients(Script(reply), max_retries=0)
    if mode == "sync":
        with sync, sync.stream("q") as stream:
            with pytest.raises(StreamInterruptedError) as seen:
                list(stream)
            with pytest.raises(StreamInterruptedError) as again:
                stream.get_final_result()
    else:
        async with asyn, asyn.stream("q") as astream:
            with pytest.raises(StreamInterruptedError) as seen:
                [event async for event in astream]
            with pytest.raises(StreamInterruptedError) as again:
                await astream.get_final_result()
    assert again.value is seen.value


# --- the accumulator --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_run_that_printed_nothing_has_empty_output_and_its_empty_container_id_as_sent(mode: str) -> None:
    item = {"type": "code_interpreter_call", "id": "ci_1", "code": "x = 1", "container_id": "c-1"}
    done = {**item, "status": "completed", "outputs": [], "container_id": ""}
    text = "".join(
        [
            responses_event("response.created", response={"id": "resp_1", "status": "queued"}),
            responses_event("response.output_item.added", item=item),
            responses_event("response.output_item.done", item=done),
            responses_event("response.output_text.delta", delta="Done."),
            responses_event("response.completed", response={"id": "resp_1", "status": "completed"}),
            "data: [DONE]\n\n",
        ]
    )
    result = await run(mode, Script(lambda: sse_response(text)), protocol="responses")
    (code_run,) = result.code_runs
    assert code_run.output == ""  # ran and printed nothing: not None (unknown)
    assert code_run.container_id == ""


# --- the decoders -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_stream_whose_finish_reason_stayed_the_string_null_ended_early(mode: str) -> None:
    text = native_frame(1, reasoning="thinking") + native_frame(2, content="half an answer")  # finish "null"
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, Script(lambda: sse_response(text)), max_retries=0)
    assert info.value.partial is not None
    assert info.value.partial.finish_reason is None


@pytest.mark.parametrize("mode", MODES)
async def test_a_token_count_sent_as_a_json_boolean_counts_as_zero_not_one(mode: str) -> None:
    usage = {"input_tokens": True, "output_tokens": 5, "total_tokens": False}
    text = native_frame(1, content="ok", finish="stop", usage=usage)
    result = await run(mode, Script(lambda: sse_response(text)))
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (0, 5, 0)


def test_a_malformed_frame_is_quoted_by_its_first_120_bytes_only() -> None:
    with pytest.raises(MalformedJSON) as info:
        loads(b'{"a": ' + b"x" * 500)
    assert info.value.snippet == '{"a": ' + "x" * 114


def test_a_chat_reasoning_that_is_not_text_is_skipped_and_the_answer_kept() -> None:
    frame = b'{"choices": [{"delta": {"reasoning_content": 5, "content": "hi"}}]}'
    events = ChatDecoder("qwen3-max", None).decode(SSEEvent("", frame, None, None))
    assert [type(e).__name__ for e in events] == ["StreamStarted", "AnswerDelta"]


@pytest.mark.parametrize(("before", "between"), [("a", "\n\n"), ("a\n", "\n"), ("a\n\n", "")])
def test_reasoning_segments_are_a_blank_line_apart_counting_the_breaks_already_there(before: str, between: str) -> None:
    assert segment_separator(before) == between
