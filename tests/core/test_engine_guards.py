"""What a call decides (qwen_ci_tool._engine), pinned where the mutation sweep of issue 26 found a
one-line break that no test caught: each test here fails when its line breaks (checked with mutmut)."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import (
    APIStatusError,
    BadRequestError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    StreamInterruptedError,
)

from ._frames import chat_chunk, native_frame
from ._mock import MODES, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


# --- a reply that is not an event stream -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_reply_that_is_not_an_event_stream_names_its_content_type_and_status(mode: str) -> None:
    reply = httpx.Response(200, headers={"content-type": "text/plain"}, content=b"hello from a proxy")
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "text/plain" in info.value.message and "HTTP 200" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_reply_without_a_content_type_says_it_had_none(mode: str) -> None:
    reply = httpx.Response(200, content=b"hello from a proxy")
    assert "content-type" not in reply.headers
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "no content type" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_status_without_a_content_type_and_a_text_body_quotes_the_body(mode: str) -> None:
    reply = httpx.Response(502, content=b"upstream went away")
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "not JSON" in info.value.message and "upstream went away" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_status_with_an_html_content_type_is_reported_as_a_page_from_a_gateway(mode: str) -> None:
    # The body does not look like HTML: only the content type says it is a page.
    reply = httpx.Response(502, headers={"content-type": "text/html"}, content=b"Bad gateway")
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "HTML page" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_300_reply_is_the_services_status_error_with_that_status(mode: str) -> None:
    reply = httpx.Response(300, json={"code": "Moved", "message": "look elsewhere"})
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.status_code == 300 and "HTTP 300" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_reply_with_only_a_code_is_the_services_refusal_with_advice_for_the_model(mode: str) -> None:
    reply = httpx.Response(200, json={"code": "InvalidParameter", "message": "the parameter is wrong"})
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(reply), model="qwen3-max-preview", max_retries=0)
    assert "the parameter is wrong" in info.value.message
    assert "qwen3-max-preview" in (info.value.hint or "")


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_rate_limit_carries_the_wait_its_headers_ask_for(mode: str) -> None:
    reply = httpx.Response(
        200,
        headers={"retry-after": "7"},
        json={"status": "failed", "error": {"code": "Throttling.RateQuota", "message": "too many requests"}},
    )
    with pytest.raises(RateLimitError) as info:
        await run(mode, Script(reply), protocol="responses", max_retries=0)
    assert info.value.retry_after == 7


# --- how a stream ends -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_of_one_frame_without_its_closing_blank_line_completes_with_its_answer(mode: str) -> None:
    # The end of the body ends the last event: its content is the first (and only) content.
    frame = native_frame(1, content="42", finish="stop").removesuffix("\n\n")
    result = await run(mode, Script(sse_response(frame)))
    assert result.status == "completed" and result.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_that_ends_without_a_finish_reason_names_the_request_id_the_stream_gave(mode: str) -> None:
    # The frames say rid-native, the header says hdr-rid: the stream's own id names the call.
    frames = native_frame(1, reasoning="thinking", request_id="rid-native")
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, Script(sse_response(frames)))
    assert info.value.request_id == "rid-native"


@pytest.mark.parametrize("mode", MODES)
async def test_an_openai_stream_cut_after_its_finish_reason_names_the_reason_the_protocol_and_the_request(
    mode: str,
) -> None:
    with_rid = chat_chunk({"content": "42"}).replace('"id": "chatcmpl-1"', '"request_id": "chat-rid"')
    frames = with_rid + chat_chunk({"content": ""}, finish="length")
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, Script(sse_response(frames)), protocol="openai")
    assert "'length'" in info.value.message and "'openai'" in info.value.message
    assert info.value.request_id == "chat-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_total_timeout_under_a_second_bounds_every_request_timeout(mode: str) -> None:
    script = Script(lambda: sse_response(native_frame(1, content="ok", finish="stop")))
    await run(mode, script, connect_timeout=30, idle_timeout=40, total_timeout=0.5)
    timeout = script.requests[0].extensions["timeout"]
    assert all(0 < timeout[kind] <= 0.5 for kind in ("connect", "read", "write", "pool"))
