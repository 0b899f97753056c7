"""What the three wire decoders read (qwen_ci_tool._protocols), pinned where the mutation sweep of
issue 26 (round 2) found a one-line break that no test caught: each test fails when its line breaks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qwen_ci_tool import ReasoningDelta, StreamStarted

from ._frames import chat_stream, native_stream, responses_event, responses_stream
from ._mock import MODES, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

#: An event stream's headers without ``x-request-id``: only the body can name the request.
NO_HEADER_ID = {"content-type": "text/event-stream;charset=UTF-8"}
STREAMS = {"dashscope": native_stream, "openai": chat_stream, "responses": responses_stream}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", list(STREAMS))
async def test_the_first_event_of_a_stream_names_the_protocol_it_came_over(mode: str, protocol: str) -> None:
    evs = await events(mode, lambda r: sse_response(STREAMS[protocol]()), protocol=protocol)
    assert isinstance(evs[0], StreamStarted) and evs[0].protocol == protocol


def _chat_with_ids(**ids: str) -> str:
    """The Chat Completions stream with *ids* (request_id, id) in every chunk instead of the usual ones."""
    chunks = [line for line in chat_stream().split("\n\n") if line.startswith("data: {")]
    out = []
    for chunk in chunks:
        body: dict[str, Any] = json.loads(chunk.removeprefix("data: "))
        body.pop("id", None)
        out.append("data: " + json.dumps({**body, **ids}) + "\n\n")
    return "".join(out) + "data: [DONE]\n\n"


@pytest.mark.parametrize("mode", MODES)
async def test_openai_takes_the_request_id_from_the_chunk_before_the_header(mode: str) -> None:
    frames = _chat_with_ids(request_id="body-rid", id="chatcmpl-9")
    result = await run(mode, lambda r: sse_response(frames), protocol="openai")
    assert result.request_id == "body-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_openai_without_a_request_id_anywhere_else_takes_the_chunk_id(mode: str) -> None:
    frames = _chat_with_ids(id="chatcmpl-9")
    result = await run(mode, lambda r: sse_response(frames, headers=NO_HEADER_ID), protocol="openai")
    assert result.request_id == "chatcmpl-9"


def _responses_with(**fields: str) -> str:
    """The Responses stream whose first event carries *fields* (and whose response id is ``resp_1``)."""
    first, rest = responses_stream().split("\n\n", 1)
    body = json.loads(first.split("data: ", 1)[1])
    return responses_event("response.created", **{**body, **fields}) + rest


@pytest.mark.parametrize("mode", MODES)
async def test_responses_takes_the_request_id_from_the_header_then_the_event_then_the_response_id(
    mode: str,
) -> None:
    with_header = await run(mode, lambda r: sse_response(_responses_with(request_id="body-rid")), protocol="responses")
    from_event = await run(
        mode, lambda r: sse_response(_responses_with(request_id="body-rid"), headers=NO_HEADER_ID), protocol="responses"
    )
    from_response = await run(
        mode, lambda r: sse_response(_responses_with(), headers=NO_HEADER_ID), protocol="responses"
    )
    assert with_header.request_id == "hdr-rid"
    assert from_event.request_id == "body-rid"
    assert from_response.request_id == "resp_1"


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_reasoning_delta_over_openai_is_no_event(mode: str) -> None:
    # chat_stream's first chunk carries reasoning_content "" (the role chunk): nothing to show.
    evs = await events(mode, lambda r: sse_response(chat_stream()), protocol="openai")
    assert [e.text for e in evs if isinstance(e, ReasoningDelta)] == ["Thinking"]
