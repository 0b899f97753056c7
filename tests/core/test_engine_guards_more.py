"""What a call decides from a reply, where a dropped clause would change what a user reads (the
mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import ProtocolError, QwenCIError, StreamInterruptedError

from ._frames import chat_chunk, native_frame
from ._mock import MODES, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
async def test_a_json_success_reply_instead_of_a_stream_is_told_as_no_event_stream(mode: str) -> None:
    reply = httpx.Response(200, json={"id": "resp-1", "status": "completed", "output": []})
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(reply))
    assert "Expected an event stream (text/event-stream) but got application/json with HTTP 200" in str(info.value)


def _without_id(frame: str) -> str:
    return frame.replace('"id": "chatcmpl-1", ', "")


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_that_ends_early_without_an_id_in_its_body_names_the_headers_request_id(mode: str) -> None:
    stream = native_frame(1, content="", request_id="")  # metadata only: nothing committed
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, Script(lambda: sse_response(stream)))
    assert info.value.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_stream_cut_before_its_usage_without_an_id_in_its_body_names_the_headers_request_id(
    mode: str,
) -> None:
    stream = _without_id(chat_chunk({"content": ""}, finish="stop"))  # no content: nothing committed
    with pytest.raises(QwenCIError) as info:
        await run(mode, Script(lambda: sse_response(stream)), protocol="openai")
    assert "usage" in str(info.value) and info.value.request_id == "hdr-rid"
