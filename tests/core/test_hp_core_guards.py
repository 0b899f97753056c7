"""Behaviours of the core that hand breaks of audit 9's kinds (issue 26, helper hp-core) showed no test checked:
an in-band status the parser must not misread, error frames without their usual fields or with fields of odd
types, "keep the first" rules, fallbacks, and a setting replaced by its default. Each test names the behaviour;
the break it was checked against (it fails with it) is in its comment."""

from __future__ import annotations

import json

import httpx
import pytest

from qwen_ci_tool import APIStatusError, BadRequestError, StreamInterruptedError, StreamStarted

from ..conftest import PLANTED_KEY
from ._frames import chat_chunk, native_frame, responses_event
from ._mock import MODES, Script, clients, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

NATIVE_DONE = native_frame(2, content="42", finish="stop")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("comment", [":HTTP_STATUS/200 ", ":HTTP_STATUS/unknown"], ids=["200-space", "not-a-number"])
async def test_a_status_comment_that_is_200_or_no_number_is_not_an_error_status(mode: str, comment: str) -> None:
    # Breaks: `if code is not None and code != 200:` -> `if code is not None:` (the comment's branch), and
    # `_parse_status` answering 500 for what is not a number: a good frame read as an error.
    frame = native_frame(1, reasoning="Let me think").replace(":HTTP_STATUS/200\n", comment + "\n")
    result = await run(mode, Script(sse_response(frame + NATIVE_DONE)), max_retries=0)
    assert result.answer == "42" and result.reasoning == "Let me think"


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_error_event_without_a_status_or_a_code_is_the_services_error(mode: str) -> None:
    # Break: `if sse.event == "error" or sse.status is not None:` -> `if sse.status is not None:` - an `event:error`
    # frame whose body has only a message was ignored and the stream went on as if nothing had happened.
    error = 'id:2\nevent:error\ndata:{"message":"the request was refused","request_id":"rid-e"}\n\n'
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(sse_response(native_frame(1, reasoning="Let me think") + error + NATIVE_DONE)))
    assert "the request was refused" in info.value.message and info.value.request_id == "rid-e"
    assert info.value.partial is not None and info.value.partial.reasoning == "Let me think"


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_frame_whose_error_code_is_a_number_is_still_the_services_error(mode: str) -> None:
    # Break: `if obj.get("code"):` -> `if isinstance(obj.get("code"), str) and obj.get("code"):` - a numeric code
    # (as a proxy may send) ignored as an unknown frame. The code is kept as text.
    bare = json.dumps({"code": 500, "message": "upstream failed"})
    stream = native_frame(1, reasoning="Let me think") + f"id:2\nevent:result\ndata:{bare}\n\n" + NATIVE_DONE
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(sse_response(stream)), max_retries=0)
    assert info.value.code == "500" and "upstream failed" in info.value.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reasoning", [5, ["think"], {"text": "think"}], ids=["number", "list", "object"])
async def test_a_native_reasoning_that_is_not_text_is_ignored_and_the_call_completes(
    mode: str, reasoning: object
) -> None:
    # Break: `if reasoning and type(reasoning) is str:` -> `if reasoning:` - the odd value reached the result's
    # reasoning and the call ended in a TypeError (a bug's traceback, not an error of the library).
    odd = json.loads(native_frame(1, reasoning="x").split("data:", 1)[1])
    odd["output"]["choices"][0]["message"]["reasoning_content"] = reasoning
    stream = native_frame(0, reasoning="Let me think") + f"id:1\nevent:result\ndata:{json.dumps(odd)}\n\n" + NATIVE_DONE
    result = await run(mode, Script(sse_response(stream)), max_retries=0)
    assert result.reasoning == "Let me think" and result.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_finish_reason_that_is_not_text_is_no_finish_reason(mode: str) -> None:
    # Break: `if reason and reason != "null" and type(reason) is str:` -> without the type check - a list taken
    # as the finish reason: the call "finished" with a result whose finish_reason is not text.
    odd = json.loads(native_frame(2, content="42").split("data:", 1)[1])
    odd["output"]["choices"][0]["finish_reason"] = ["stop"]
    stream = native_frame(1, reasoning="Let me think") + f"id:2\nevent:result\ndata:{json.dumps(odd)}\n\n"
    with pytest.raises(StreamInterruptedError, match="no finish reason") as info:
        await run(mode, Script(sse_response(stream)), max_retries=0)
    assert info.value.partial is not None and info.value.partial.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_stream_starts_once_whatever_the_number_of_frames(mode: str) -> None:
    # Break: `if not self._started:` -> `if True:` - a StreamStarted event per frame.
    stream = native_frame(1, reasoning="Let me think") + native_frame(2, reasoning=" more") + NATIVE_DONE
    got = await events(mode, Script(sse_response(stream)), max_retries=0)
    started = [e for e in got if isinstance(e, StreamStarted)]
    assert len(started) == 1 and started[0].request_id == "rid-native"


def test_the_native_request_asks_proxies_not_to_buffer_the_stream() -> None:
    # Break: the `X-Accel-Buffering: no` header dropped from the native request (nginx-style proxies then hold
    # the stream back until it ends, and the idle timeout fires on a long run).
    script = Script(lambda: sse_response(native_frame(1, content="42", finish="stop")))
    sync, _ = clients(script, api_key=PLANTED_KEY)
    with sync:
        sync.run("hi")
    assert script.requests[0].headers["x-accel-buffering"] == "no"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_chunk_whose_delta_is_null_still_gives_its_finish_reason(mode: str) -> None:
    # Break: `delta = choice.get("delta") or {}` -> `choice.get("delta")` - a gateway's last chunk with
    # `"delta": null` ended the call in a ProtocolError (an unexpected shape).
    stream = chat_chunk({"content": "42"}) + chat_chunk({}, finish="stop").replace('"delta": {}', '"delta": null')
    stream += chat_chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}) + "data: [DONE]\n\n"
    result = await run(mode, Script(sse_response(stream)), protocol="openai", max_retries=0)
    assert result.answer == "42" and result.finish_reason == "stop" and result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_reasoning_that_is_not_text_is_ignored_and_the_call_completes(mode: str) -> None:
    # Break: `if reasoning and type(reasoning) is str:` -> `if reasoning:` (Chat Completions) - a TypeError.
    stream = chat_chunk({"reasoning_content": "Let me think"}) + chat_chunk({"reasoning_content": ["odd"]})
    stream += chat_chunk({"content": "42"}, finish="stop")
    stream += chat_chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}) + "data: [DONE]\n\n"
    result = await run(mode, Script(sse_response(stream)), protocol="openai", max_retries=0)
    assert result.reasoning == "Let me think" and result.answer == "42"


CHAT_END = chat_chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}) + "data: [DONE]\n\n"


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_chat_finish_reason_is_no_finish_reason(mode: str) -> None:
    # Break: `if reason and type(reason) is str:` -> `if type(reason) is str:` - a gateway's `"finish_reason": ""`
    # taken as the end: a stream that never finished became a result instead of an interrupted call.
    stream = chat_chunk({"content": "4"}, finish="") + chat_chunk({"content": "2"}, finish="") + CHAT_END
    with pytest.raises(StreamInterruptedError, match="no finish reason") as info:
        await run(mode, Script(sse_response(stream)), protocol="openai", max_retries=0)
    assert info.value.partial is not None and info.value.partial.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_chunk_with_several_choices_is_read_from_the_first(mode: str) -> None:
    # Break: `if choices:` -> `if choices and len(choices) == 1:` - a chunk with more than one choice ignored.
    first = json.loads(chat_chunk({"content": "42"}, finish="stop").split("data: ", 1)[1])
    first["choices"].append({**first["choices"][0], "index": 1, "delta": {"content": "other"}})
    stream = f"data: {json.dumps(first)}\n\n" + CHAT_END
    result = await run(mode, Script(sse_response(stream)), protocol="openai", max_retries=0)
    assert result.answer == "42" and result.finish_reason == "stop"


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_event_without_a_type_in_its_data_is_read_by_its_event_name(mode: str) -> None:
    # Break: `kind = obj.get("type") or sse.event` -> `obj.get("type")` - the event line's name ignored, so the
    # answer and the completion of a stream that names its events only there were lost.
    def event(kind: str, **fields: object) -> str:
        return f"event: {kind}\ndata: {json.dumps(fields)}\n\n"

    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    stream = event("response.created", response={"id": "resp_1"}) + event("response.output_text.delta", delta="42")
    stream += event("response.completed", response={"id": "resp_1", "usage": usage})
    result = await run(mode, Script(sse_response(stream)), protocol="responses", max_retries=0)
    assert result.answer == "42" and result.status == "completed" and result.usage.total_tokens == 2


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_delta_that_is_not_text_is_ignored_and_the_call_completes(mode: str) -> None:
    # Breaks: `if delta and type(delta) is str:` -> `if delta:` (the answer's, the reasoning's) - a TypeError.
    stream = responses_event("response.created", response={"id": "resp_1"})
    stream += responses_event("response.reasoning_text.delta", delta="Let me think")
    stream += responses_event("response.reasoning_text.delta", delta={"text": "odd"})
    stream += responses_event("response.output_text.delta", delta="42")
    stream += responses_event("response.output_text.delta", delta=["odd"])
    stream += responses_event("response.completed", response={"id": "resp_1"})
    result = await run(mode, Script(sse_response(stream)), protocol="responses", max_retries=0)
    assert result.answer == "42" and result.reasoning == "Let me think" and result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("usage", [None, [], 5], ids=["null", "list", "number"])
async def test_a_completed_response_whose_usage_is_not_an_object_completes_with_no_usage(
    mode: str, usage: object
) -> None:
    # Break: `if isinstance(response.get("usage"), dict):` -> `... is not None` - a usage of another type passed
    # the test and a whole answer was lost to a ProtocolError at its last event.
    stream = responses_event("response.created", response={"id": "resp_1"})
    stream += responses_event("response.output_text.delta", delta="42")
    stream += responses_event("response.completed", response={"id": "resp_1", "usage": usage})
    result = await run(mode, Script(sse_response(stream)), protocol="responses", max_retries=0)
    assert result.answer == "42" and result.status == "completed" and result.usage.total_tokens == 0


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_request_id_that_is_not_text_gives_way_to_the_headers(mode: str) -> None:
    # Break: `rid = request_id if isinstance(request_id, str) and request_id else self._header_rid` ->
    # `request_id or self._header_rid` - a number became the result's request id.
    stream = native_frame(1, content="42", finish="stop").replace('"request_id":"rid-native"', '"request_id":12345')
    result = await run(mode, Script(sse_response(stream)), max_retries=0)
    assert result.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_token_counts_that_are_negative_or_booleans_count_as_zero(mode: str) -> None:
    # Breaks: `count` without `value >= 0` (a negative count kept), and with `isinstance(value, int)` for
    # `type(value) is int` (true counted as 1).
    usage = {"input_tokens": -5, "output_tokens": True, "total_tokens": 7}
    result = await run(mode, Script(sse_response(native_frame(1, content="42", finish="stop", usage=usage))))
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (0, 0, 7)


@pytest.mark.parametrize("mode", MODES)
async def test_content_parts_whose_text_is_not_text_are_skipped(mode: str) -> None:
    # Break: `isinstance(t := part.get("text"), str)` -> `(t := part.get("text"))` - a ProtocolError (a number
    # joined into the answer).
    parts = [{"text": "4"}, {"text": 5}, {"image": "x"}, {"text": "2"}]
    result = await run(mode, Script(sse_response(native_frame(1, content=parts, finish="stop"))), max_retries=0)
    assert result.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_a_refused_parameter_whose_message_mentions_a_rate_limit_is_still_a_bad_request(mode: str) -> None:
    # Break: `if cls is InternalServerError and says_rate_limit(message):` -> `if says_rate_limit(message):` - a
    # refused request became a retryable RateLimitError because of words in its message.
    body = {"code": "InvalidParameter", "message": "The rate limit field is not a parameter.", "request_id": "r1"}
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(httpx.Response(400, json=body)), max_retries=0)
    assert info.value.retryable is False


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_bodys_own_request_id_comes_before_the_id_of_its_error_object(mode: str) -> None:
    # Break: the nested `error.id` (a workspace host's place for it) taken even when the body has `request_id`.
    body = {"request_id": "rid-top", "error": {"id": "rid-inner", "code": "InvalidParameter", "message": "no"}}
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(httpx.Response(400, json=body)), max_retries=0)
    assert info.value.request_id == "rid-top"


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_bodys_request_id_that_is_not_text_gives_way_to_the_headers(mode: str) -> None:
    # Break: `rid = rid if isinstance(rid, str) and rid else request_id` -> `rid or request_id` - a number kept.
    body = {"request_id": 12345, "code": "InvalidParameter", "message": "no"}
    reply = httpx.Response(400, json=body, headers={"x-request-id": "hdr-rid"})
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("message", [404, ["not", "text"]], ids=["number", "list"])
async def test_an_error_bodys_message_that_is_not_text_is_no_message(mode: str, message: object) -> None:
    # Break: `message = fields.get("message") if isinstance(fields.get("message"), str) else None` ->
    # `fields.get("message")` - an AttributeError (a bug's traceback) instead of the service's error.
    body = {"code": "InvalidParameter", "message": message, "request_id": "r1"}
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(httpx.Response(400, json=body)), max_retries=0)
    assert "(InvalidParameter, HTTP 400): no message." in info.value.message and info.value.service_message is None
