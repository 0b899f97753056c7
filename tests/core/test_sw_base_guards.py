"""What ``qwen_ci_tool._protocols._base`` promises about a frame's JSON, pinned where the mutation sweep of
issue 26 (sw-base) found a one-line break no test caught: each test fails when its line breaks."""

from __future__ import annotations

import json

import pytest

from qwen_ci_tool import AnswerDelta, CodeInterpreter, ConfigurationError, ProtocolError, StreamStarted

from ._frames import chat_chunk, chat_stream, native_frame, native_stream, responses_event, responses_stream
from ._mock import MODES, Script, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

# Each protocol whose frames are JSON objects read by the shared decoder base, with a clean stream of it.
STREAMS = [("openai", chat_stream), ("responses", responses_stream)]


async def _malformed(mode: str, data: bytes) -> str:
    """The message of the call whose stream is one frame carrying *data* (over openai)."""
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(sse_response(b"data: " + data + b"\n\n")), protocol="openai", max_retries=0)
    assert "malformed JSON" in info.value.message
    return info.value.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data", [b'{"choices": "\xff\xfe"}', b"[\xff]"], ids=["object", "array"])
async def test_a_frame_that_is_not_utf8_is_malformed_json_that_says_so_and_shows_its_start(
    mode: str, data: bytes
) -> None:
    message = await _malformed(mode, data)
    assert "(not UTF-8)" in message
    assert repr(data.decode("utf-8", "replace")) in message


@pytest.mark.parametrize("mode", MODES)
async def test_a_frame_cut_off_after_its_first_key_is_malformed_json_not_ignored(mode: str) -> None:
    message = await _malformed(mode, b'{"choices"')
    assert "Expecting ':' delimiter" in message


@pytest.mark.parametrize("mode", MODES)
async def test_an_object_followed_by_more_data_is_malformed_json_not_the_object(mode: str) -> None:
    message = await _malformed(mode, b'{"choices": []}{"choices": []}')
    assert "Extra data" in message


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_json_shows_the_first_120_bytes_of_the_frame_and_no_more(mode: str) -> None:
    data = b'{"choices": ' + b"x" * 200
    message = await _malformed(mode, data)
    assert repr(data[:120].decode()) in message
    assert repr(data[:121].decode()) not in message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("protocol", "stream"), STREAMS)
@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "42", "null"], ids=["list", "string", "number", "null"])
async def test_a_frame_whose_json_is_not_an_object_is_ignored_and_the_answer_is_whole(
    mode: str, protocol: str, stream: object, data: str
) -> None:
    frames: str = stream()  # type: ignore[operator]
    clean = await run(mode, Script(lambda: sse_response(frames)), protocol=protocol)
    odd = await run(mode, Script(lambda: sse_response(f"data: {data}\n\n" + frames)), protocol=protocol)
    assert odd.status == clean.status == "completed"
    assert (odd.answer, odd.code_runs) == (clean.answer, clean.code_runs)


def _cycle() -> dict[str, object]:
    looped: dict[str, object] = {}
    looped["self"] = looped
    return looped


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({1, 2}, "(Object of type set is not JSON serializable)"),
        (object(), "(Object of type object is not JSON serializable)"),
        (float("nan"), "(Out of range float values are not JSON compliant"),
        ("ab\udcffc", r"(a lone surrogate '\udcff')"),
        (_cycle(), "(Circular reference detected)"),
    ],
    ids=["set", "object", "nan", "lone-surrogate", "cycle"],
)
def test_extra_parameters_that_cannot_be_sent_as_json_are_refused_when_the_client_is_made(
    value: object, why: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key="sk-test", extra_parameters={"user": value})
    assert info.value.message.startswith(f"extra_parameters cannot be sent as JSON {why}")
    assert "Give text, numbers, booleans, None, lists and dicts." in info.value.message


def test_extra_parameters_from_the_environment_with_nan_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_CI_EXTRA_PARAMETERS", '{"seed": NaN}')
    with pytest.raises(ConfigurationError, match="extra_parameters cannot be sent as JSON"):
        CodeInterpreter(api_key="sk-test")


# What the KINDS=more sweep of _protocols/* (a clause dropped, a condition forced) left: each test fails with its break.


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("protocol", "stream"), [("dashscope", native_stream), *STREAMS])
async def test_a_stream_starts_once_whatever_its_number_of_frames(mode: str, protocol: str, stream: object) -> None:
    evs = await events(mode, Script(lambda: sse_response(stream())), protocol=protocol)  # type: ignore[operator]
    assert [type(e) for e in evs].count(StreamStarted) == 1 and isinstance(evs[0], StreamStarted)


@pytest.mark.parametrize("mode", MODES)
async def test_an_answer_part_that_is_not_an_object_is_skipped_and_the_rest_joined(mode: str) -> None:
    frames = native_frame(1, content=[{"text": "4"}, "junk", 7, {"text": "2"}], finish="stop")
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert result.status == "completed" and result.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_chunk_whose_text_is_empty_sends_no_answer_event(mode: str) -> None:
    frames = chat_chunk({"content": [{"image": "x.png"}]}) + chat_stream()
    evs = await events(mode, Script(lambda: sse_response(frames)), protocol="openai")
    assert [e.text for e in evs if isinstance(e, AnswerDelta)] == ["42"]


@pytest.mark.parametrize("mode", MODES)
async def test_chat_values_that_are_not_text_are_ignored(mode: str) -> None:
    odd = chat_chunk({"reasoning_content": 5}) + chat_chunk({}, finish=7)  # type: ignore[arg-type]
    frames = chat_stream().replace("data: [DONE]", odd + "data: [DONE]")
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="openai")
    assert (result.status, result.finish_reason, result.reasoning) == ("completed", "stop", "Thinking")


@pytest.mark.parametrize("mode", MODES)
async def test_responses_deltas_that_are_not_text_are_ignored(mode: str) -> None:
    odd = responses_event("response.reasoning_text.delta", delta=5) + responses_event(
        "response.output_text.delta", delta=["x"]
    )
    frames = responses_stream().replace("event: response.completed", odd + "event: response.completed")
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="responses")
    assert (result.status, result.answer, result.reasoning) == ("completed", "It is 42.", "Let me run it.")


@pytest.mark.parametrize("mode", MODES)
async def test_responses_events_named_only_by_their_sse_event_line_are_read(mode: str) -> None:
    blocks = []
    for block in responses_stream().strip().split("\n\n"):
        event, data = block.split("\n")
        body = json.loads(data.removeprefix("data: "))
        del body["type"]
        blocks.append(f"{event}\ndata: {json.dumps(body)}\n\n")
    clean = await run(mode, Script(lambda: sse_response(responses_stream())), protocol="responses")
    named = await run(mode, Script(lambda: sse_response("".join(blocks))), protocol="responses")
    assert named.status == "completed" and (named.answer, named.code_runs) == (clean.answer, clean.code_runs)


@pytest.mark.parametrize("mode", MODES)
async def test_responses_events_without_their_response_or_item_object_are_read_as_empty(mode: str) -> None:
    frames = (
        responses_event("response.output_text.delta", delta="4")
        + responses_event("response.output_item.added")
        + responses_event("response.output_text.delta", delta="2")
        + responses_event("response.completed")
    )
    no_request_id = {"content-type": "text/event-stream"}
    result = await run(mode, Script(lambda: sse_response(frames, headers=no_request_id)), protocol="responses")
    assert (result.status, result.answer, result.finish_reason) == ("completed", "42", "stop")
