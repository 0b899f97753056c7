"""The clients' behaviour through the public API, with an httpx MockTransport (no sockets)."""

from __future__ import annotations

import json

import httpx
import pytest

from qwen_ci_tool import (
    AnswerDelta,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    CodeRunUpdated,
    Completed,
    ConfigurationError,
    ContentFilterError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    ReasoningDelta,
    StreamInterruptedError,
    StreamStarted,
    UsageUpdated,
    _constants,
)

from ..conftest import PLANTED_KEY, FakeClock
from ._frames import chat_chunk, chat_stream, native_frame, native_stream, responses_event, responses_stream
from ._mock import MODES, SSE, Chunks, Script, clients, cut, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


def json_error(status: int, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers={"x-request-id": "hdr-rid", **(headers or {})}, json=body)


@pytest.mark.parametrize("mode", MODES)
async def test_native_stream_folds_into_one_result_with_the_filled_code_run(mode: str) -> None:
    result = await run(mode, lambda r: sse_response(native_stream()))
    assert result.status == "completed" and result.finish_reason == "stop"
    assert result.answer == "Résultat: 7726936446654986565307347338803006152221172 3 ✓"
    # The segments before and after the code run stay apart (glued: "...it.The result...").
    assert result.reasoning == "I will compute it.\n\nThe result is big."
    assert [(r.index, r.code, r.output) for r in result.code_runs] == [(0, "123**21", None)]
    assert [(s.kind, s.text) for s in result.steps] == [
        ("reasoning", "I will compute it."),
        ("code", "123**21"),
        ("reasoning", "The result is big."),
        ("answer", result.answer),
    ]
    assert result.usage.total_tokens == 997 and result.usage.input_tokens == 734
    assert result.usage.reasoning_tokens == 171 and result.usage.code_interpreter_calls == 1
    assert result.request_id == "rid-native" and result.protocol == "dashscope" and result.model == "qwen3-max"
    assert (
        result.timings.time_to_first_event is not None
        and result.timings.total_time >= result.timings.time_to_first_event
    )


@pytest.mark.parametrize("mode", MODES)
async def test_events_arrive_typed_in_order_from_start_to_completed(mode: str) -> None:
    evs = await events(mode, lambda r: sse_response(native_stream(), size=3))
    kinds = [type(e) for e in evs]
    assert kinds[0] is StreamStarted and kinds[-1] is Completed
    code_events = [e for e in evs if isinstance(e, CodeRunUpdated)]
    assert [(e.index, e.code, e.is_new) for e in code_events] == [(0, "", True), (0, "123**21", False)]
    first_answer = kinds.index(AnswerDelta)
    assert kinds.index(ReasoningDelta) < kinds.index(CodeRunUpdated) < first_answer
    assert UsageUpdated in kinds


@pytest.mark.parametrize("mode", MODES)
async def test_openai_protocol_returns_reasoning_and_answer_and_says_it_has_no_code(mode: str) -> None:
    result = await run(mode, lambda r: sse_response(chat_stream()), protocol="openai")
    assert (result.answer, result.reasoning, result.code_runs) == ("42", "Thinking", ())
    assert result.code_returned is False and "does not return the code" in result.to_markdown()
    assert result.usage.total_tokens == 12 and result.usage.reasoning_tokens == 3
    assert (result.usage.input_tokens, result.usage.output_tokens) == (5, 7)
    assert result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
async def test_responses_protocol_returns_code_output_and_container(mode: str) -> None:
    result = await run(mode, lambda r: sse_response(responses_stream()), protocol="responses")
    run0 = result.code_runs[0]
    assert (run0.code, run0.output, run0.container_id) == ("print(6*7)", "42\n", "c-1")
    assert result.answer == "It is 42." and result.usage.code_interpreter_calls == 1
    assert "42" in result.to_markdown() and result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
async def test_multimodal_content_lists_are_read_as_text(mode: str) -> None:
    frames = (
        native_frame(1, content=[], reasoning="hm")
        + native_frame(2, content=[{"text": "ok"}])
        + native_frame(3, content=[], finish="stop")
    )
    script = Script(lambda: sse_response(frames))
    result = await run(mode, script, model="qwen3.5-plus")
    assert result.answer == "ok"
    sent = json.loads(script.requests[0].content)
    assert script.requests[0].url.path.endswith("/multimodal-generation/generation")
    assert sent["input"]["messages"][0]["content"] == [{"text": "What is 123 to the power of 21?"}]


@pytest.mark.parametrize("mode", MODES)
async def test_finish_reason_length_gives_an_incomplete_result_not_an_error(mode: str) -> None:
    frames = native_frame(1, content="partial") + native_frame(2, finish="length")
    result = await run(mode, lambda r: sse_response(frames))
    assert result.status == "incomplete" and result.finish_reason == "length" and result.answer == "partial"


@pytest.mark.parametrize("mode", MODES)
async def test_a_401_is_an_authentication_error_naming_where_the_key_came_from_and_the_region(mode: str) -> None:
    script = Script(
        lambda: json_error(
            401, {"code": "InvalidApiKey", "message": "Invalid API-key provided.", "request_id": "r-401"}
        )
    )
    with pytest.raises(AuthenticationError) as info:
        await run(mode, script, api_key=PLANTED_KEY)
    err = info.value
    assert err.status_code == 401 and err.code == "InvalidApiKey" and err.request_id == "r-401"
    assert "Check the API key in the api_key= argument." in str(err) and "singapore" in str(err)
    assert PLANTED_KEY not in str(err) + repr(err)
    assert len(script.requests) == 1, "authentication errors are not retried"


@pytest.mark.parametrize("mode", MODES)
async def test_429_is_retried_honouring_retry_after_then_succeeds(mode: str, fake_clock: FakeClock) -> None:
    script = Script(
        lambda: json_error(429, {"code": "Throttling.RateQuota", "message": "slow down"}, {"retry-after": "7"}),
        lambda: sse_response(native_stream()),
    )
    result = await run(mode, script)
    assert result.status == "completed" and len(script.requests) == 2
    assert fake_clock.sleeps == [7.0], "the wait is the service's Retry-After, not the backoff"


@pytest.mark.parametrize("mode", MODES)
async def test_max_retries_bounds_the_attempts_and_the_last_error_is_raised(mode: str) -> None:
    script = Script(lambda: json_error(503, {"code": "ServiceUnavailable", "message": "busy"}))
    with pytest.raises(InternalServerError, match="retry later"):
        await run(mode, script, max_retries=3)
    assert len(script.requests) == 4


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("retry_after", "requests"), [("60", 2), ("61", 1)])
async def test_a_retry_after_longer_than_the_cap_is_not_waited_for(
    mode: str, retry_after: str, requests: int, fake_clock: FakeClock
) -> None:
    # total_timeout far above the wait: the 60 s cap decides, not the time left.
    script = Script(lambda: json_error(429, {"code": "Throttling", "message": "later"}, {"retry-after": retry_after}))
    with pytest.raises(RateLimitError) as info:
        await run(mode, script, max_retries=1, total_timeout=3600)
    assert info.value.retry_after == float(retry_after) and f"wait {retry_after} s" in str(info.value)
    assert len(script.requests) == requests and fake_clock.sleeps == [60.0] * (requests - 1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InvalidParameter", BadRequestError),
        (400, "DataInspectionFailed", ContentFilterError),
        (403, "AccessDenied", AuthenticationError),
        (404, "Model.NotExist", BadRequestError),
        (400, "Arrearage", AuthenticationError),
        (418, "SomethingNew", BadRequestError),
    ],
)
async def test_error_codes_map_to_classes_and_are_not_retried(mode: str, status: int, code: str, cls: type) -> None:
    script = Script(lambda: json_error(status, {"code": code, "message": "m", "request_id": "r"}))
    with pytest.raises(cls) as info:
        await run(mode, script)
    assert type(info.value) is cls and info.value.code == code and len(script.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_model_not_exist_names_the_model_and_the_known_ones(mode: str) -> None:
    script = Script(lambda: json_error(404, {"code": "Model.NotExist", "message": "Model not exist."}))
    with pytest.raises(BadRequestError) as info:
        await run(mode, script, model="qwen9-ultra")
    assert "'qwen9-ultra'" in str(info.value) and "qwen3-max-preview" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_an_html_gateway_page_gives_a_clear_error(mode: str) -> None:
    page = httpx.Response(502, headers={"content-type": "text/html"}, content=b"<html><body>Bad Gateway</body></html>")
    with pytest.raises(InternalServerError, match="HTML page"):
        await run(mode, lambda r: page, max_retries=0)


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_event_after_content_carries_the_partial_and_is_not_retried(mode: str) -> None:
    frames = (
        native_frame(1, reasoning="thinking")
        + native_frame(2, content="half")
        + ('id:3\nevent:error\n:HTTP_STATUS/500\ndata:{"code":"InternalError","message":"boom","request_id":"r-e"}\n\n')
    )
    script = Script(lambda: sse_response(frames))
    with pytest.raises(InternalServerError) as info:
        await run(mode, script)
    err = info.value
    assert err.partial is not None and err.partial.answer == "half" and err.partial.status == "incomplete"
    assert err.request_id == "r-e" and len(script.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_event_before_any_content_is_retried(mode: str) -> None:
    err_frame = 'event: error\nstatus: 429\ndata: {"code":"Throttling","message":"busy"}\n\n'
    script = Script(lambda: sse_response(err_frame), lambda: sse_response(native_stream()))
    result = await run(mode, script)
    assert result.status == "completed" and len(script.requests) == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "event",
    ["event:result\n", "event:error\n", "event: something-new\n", ""],
    ids=["result", "error", "something-new", "no-event"],  # ids mutmut can select again (no escapes)
)
@pytest.mark.parametrize("status_line", [":HTTP_STATUS/503", "status:503"])
async def test_an_in_band_status_is_honoured_whatever_the_event_is_named(
    mode: str, event: str, status_line: str
) -> None:
    # An unknown code maps by status, so only the in-band 503 can make this a server error.
    frames = (
        native_frame(1, reasoning="thinking")
        + native_frame(2, content="half")
        + (
            f'id:3\n{event}{status_line}\ndata:{{"code":"SomethingNew","message":"upstream busy","request_id":"r-503"}}\n\n'
        )
    )
    with pytest.raises(InternalServerError) as info:
        await run(mode, lambda r: sse_response(frames))
    err = info.value
    assert err.status_code == 503 and err.code == "SomethingNew" and err.request_id == "r-503"
    assert err.partial is not None and err.partial.answer == "half"


# What the other protocols send before the status arrives, and the event names a frame may carry.
_BEFORE = {
    "openai": chat_chunk({"reasoning_content": "thinking"}) + chat_chunk({"content": "half"}),
    "responses": (
        responses_event("response.created", response={"id": "resp_1", "status": "queued"})
        + responses_event("response.reasoning_text.delta", delta="thinking")
        + responses_event("response.output_text.delta", delta="half")
    ),
}
_NAMES = {
    "openai": ["", "event:result\n", "event: chat.completion.chunk\n"],
    "responses": ["", "event:response.output_text.delta\n", "event:response.in_progress\n"],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("protocol", "event"),
    [(p, e) for p, names in _NAMES.items() for e in names],
    ids=lambda v: str(v).strip().removeprefix("event:").strip() or "no-event",  # no escapes, no quotes
)
@pytest.mark.parametrize("status_line", [":HTTP_STATUS/503", "status:503"])
async def test_an_in_band_status_on_a_normal_frame_is_honoured_over_chat_completions_and_responses(
    mode: str, protocol: str, event: str, status_line: str
) -> None:
    # No "error" key, no error event name, an unknown code: only the in-band 503 makes this a failure.
    frames = _BEFORE[protocol] + (
        f'{event}{status_line}\ndata:{{"code":"SomethingNew","message":"upstream busy","request_id":"r-503"}}\n\n'
    )
    with pytest.raises(InternalServerError) as info:
        await run(mode, lambda r: sse_response(frames), protocol=protocol)
    err = info.value
    assert err.status_code == 503 and err.code == "SomethingNew" and "upstream busy" in err.message
    assert err.partial is not None and err.partial.answer == "half" and err.partial.reasoning == "thinking"


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_frame_without_status_maps_by_code_with_status_400(mode: str) -> None:
    frame = 'event:error\ndata:{"code":"DataInspectionFailed","message":"bad words"}\n\n'
    with pytest.raises(ContentFilterError) as info:
        await run(mode, lambda r: sse_response(frame))
    assert info.value.status_code == 400


@pytest.mark.parametrize("mode", MODES)
async def test_a_connection_drop_mid_stream_is_interrupted_with_the_partial(mode: str) -> None:
    frames = (native_frame(1, reasoning="a") + native_frame(2, content="so far")).encode()
    script = Script(lambda: sse_response(frames, error=httpx.RemoteProtocolError("incomplete chunked read")))
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, script)
    assert info.value.partial is not None and info.value.partial.answer == "so far"
    assert len(script.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_clean_close_before_the_finish_reason_is_interrupted(mode: str) -> None:
    with pytest.raises(StreamInterruptedError, match="ended before the service finished") as info:
        await run(mode, lambda r: sse_response(native_frame(1, content="x")))
    assert info.value.partial is not None and info.value.partial.answer == "x"


@pytest.mark.parametrize("mode", MODES)
async def test_a_drop_before_any_event_is_retried_as_a_connection_failure(mode: str) -> None:
    script = Script(lambda: sse_response(b"", error=httpx.ReadError("reset")), lambda: sse_response(native_stream()))
    assert (await run(mode, script)).status == "completed" and len(script.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_connection_refused_is_retried_then_reported(mode: str) -> None:
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(APIConnectionError, match="connection refused") as info:
        await run(mode, script, max_retries=1)
    assert len(script.requests) == 2 and info.value.partial is None


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_200_body_is_a_protocol_error(mode: str) -> None:
    with pytest.raises(ProtocolError, match="empty event stream"):
        await run(mode, lambda r: sse_response(b""))


@pytest.mark.parametrize("mode", MODES)
async def test_a_wrong_content_type_is_a_protocol_error_naming_base_url(mode: str) -> None:
    page = httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>login</html>")
    with pytest.raises(ProtocolError, match="base_url"):
        await run(mode, lambda r: page)


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_json_is_a_protocol_error_with_the_partial(mode: str) -> None:
    frames = native_frame(1, content="ok") + 'id:2\nevent:result\ndata:{"output": {oops\n\n'
    with pytest.raises(ProtocolError, match="malformed JSON") as info:
        await run(mode, lambda r: sse_response(frames))
    assert info.value.partial is not None and info.value.partial.answer == "ok"


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_fields_and_event_names_are_ignored(mode: str) -> None:
    text = native_stream().replace('"request_id":', '"brand_new_field":{"x":1},"request_id":')
    text = 'event:heartbeat\ndata:{"whatever":true}\n\n' + text
    result = await run(mode, lambda r: sse_response(text))
    assert result.status == "completed" and result.code_runs[0].code == "123**21"


@pytest.mark.parametrize("mode", MODES)
async def test_responses_rate_limit_as_http_200_is_a_rate_limit_error(mode: str) -> None:
    text = responses_event("response.created", response={"id": "resp_1", "status": "queued"}) + responses_event(
        "response.failed",
        response={
            "id": "resp_1",
            "status": "failed",
            "error": {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded"},
        },
    )
    with pytest.raises(RateLimitError, match="Requests rate limit exceeded"):
        await run(mode, lambda r: sse_response(text), protocol="responses", max_retries=0)


@pytest.mark.parametrize("mode", MODES)
async def test_responses_rate_limit_as_a_json_200_body_is_a_rate_limit_error(mode: str) -> None:
    body = {"status": "failed", "error": {"code": "Throttling.RateQuota", "message": "limit"}, "request_id": "r9"}
    script = Script(lambda: httpx.Response(200, json=body))
    with pytest.raises(RateLimitError) as info:
        await run(mode, script, protocol="responses", max_retries=0)
    assert info.value.request_id == "r9"


@pytest.mark.parametrize("mode", MODES)
async def test_the_openai_error_shape_is_mapped(mode: str) -> None:
    body = {
        "error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"},
        "request_id": "r-o",
    }
    with pytest.raises(AuthenticationError) as info:
        await run(mode, lambda r: json_error(401, body), protocol="openai")
    assert info.value.code == "invalid_api_key" and info.value.request_id == "r-o"


@pytest.mark.parametrize("mode", MODES)
async def test_a_missing_key_fails_before_sending_and_names_the_fix(mode: str) -> None:
    script = Script(lambda: sse_response(native_stream()))
    with pytest.raises(ConfigurationError) as info:
        await run(mode, script, api_key=None)
    # The Python API's own knobs: the variable or api_key=, and the emulator class (not a CLI flag).
    text = str(info.value)
    assert "DASHSCOPE_API_KEY" in text and "api_key=" in text and "qwen_ci_tool.testing.Emulator" in text
    assert "--emulator" not in text
    assert script.requests == []


def test_stopping_early_closes_the_response_sync() -> None:
    body = Chunks(cut(native_stream().encode(), 5))
    sync, _ = clients(lambda r: httpx.Response(200, headers=SSE, stream=body))
    with sync.stream("q") as stream:
        next(stream)
    assert body.closed


async def test_stopping_early_closes_the_response_async() -> None:
    body = Chunks(cut(native_stream().encode(), 5))
    _, asyn = clients(lambda r: httpx.Response(200, headers=SSE, stream=body))
    async with asyn.stream("q") as stream:
        await stream.__anext__()
    assert body.closed


def test_the_native_request_is_what_the_vendor_sdk_sends() -> None:
    script = Script(lambda: sse_response(native_stream()))
    sync, _ = clients(script, api_key=PLANTED_KEY, workspace="ws-1", extra_parameters={"seed": 7})
    sync.run("hi")
    req = script.requests[0]
    assert str(req.url) == "https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation"
    assert req.headers["authorization"] == f"Bearer {PLANTED_KEY}"
    assert req.headers["x-dashscope-sse"] == "enable" and req.headers["accept"] == "text/event-stream"
    assert req.headers["x-dashscope-workspace"] == "ws-1"
    body = json.loads(req.content)
    assert "stream" not in body
    assert body == {
        "model": "qwen3-max",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "parameters": {
            "enable_code_interpreter": True,
            "enable_thinking": True,
            "result_format": "message",
            "incremental_output": True,
            "seed": 7,
        },
    }


def test_the_chat_and_responses_requests_carry_the_interpreter_flags() -> None:
    script = Script(lambda: sse_response(chat_stream()), lambda: sse_response(responses_stream()))
    sync, _ = clients(script, protocol="openai", region="singapore")
    sync.run("hi")
    sync2, _ = clients(script, protocol="responses", responses_path=_constants.LEGACY_RESPONSES_PATH)
    sync2.run("hi")
    chat, resp = (json.loads(r.content) for r in script.requests)
    assert str(script.requests[0].url) == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"
    assert (
        chat["stream"] is True
        and chat["enable_code_interpreter"] is True
        and chat["stream_options"] == {"include_usage": True}
    )
    assert str(script.requests[1].url).endswith("/api/v2/apps/protocols/compatible-mode/v1/responses")
    assert (
        resp["tools"] == [{"type": "code_interpreter"}] and resp["stream"] is True and resp["enable_thinking"] is True
    )


@pytest.mark.parametrize("mode", MODES)
async def test_an_endless_error_body_is_read_only_up_to_the_cap(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_constants, "MAX_ERROR_BODY_BYTES", 1000)
    stream = Chunks([b"<html>" + b"x" * 500] * 50)  # 25 kB of a gateway page
    with pytest.raises(InternalServerError, match="HTML page"):
        await run(
            mode, lambda r: httpx.Response(502, headers={"content-type": "text/html"}, stream=stream), max_retries=0
        )
    assert stream.served == 2, "reading stopped once the cap was reached"
