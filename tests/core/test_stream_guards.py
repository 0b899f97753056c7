"""What a stream promises at its edges (recording, end markers, metadata before content, partials),
pinned through the public clients over an httpx MockTransport: each test fails when its line breaks."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from qwen_ci_tool import (
    APIConnectionError,
    APITimeoutError,
    CodeInterpreterResult,
    Completed,
    StreamInterruptedError,
    StreamStarted,
    UsageUpdated,
)

from ..conftest import FakeClock
from ._frames import chat_stream, native_frame, native_stream
from ._mock import MODES, Script, clients, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

THROTTLED = 'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.RateQuota","message":"busy"}\n\n'


async def _run_recorded(mode: str, script: Script) -> tuple[CodeInterpreterResult, bytes]:
    record = io.BytesIO()
    sync, asyn = clients(script)
    if mode == "sync":
        with sync:
            result = sync.run("q", record=record)
    else:
        async with asyn:
            result = await asyn.run("q", record=record)
    return result, record.getvalue()


@pytest.mark.parametrize("mode", MODES)
async def test_a_recording_holds_exactly_the_bytes_of_the_stream_once(mode: str) -> None:
    result, recorded = await _run_recorded(mode, Script(lambda: sse_response(native_stream(), size=5)))
    assert result.status == "completed" and recorded == native_stream().encode()


@pytest.mark.parametrize("mode", MODES)
async def test_a_retried_attempt_leaves_nothing_in_the_recording(mode: str) -> None:
    script = Script(lambda: sse_response(THROTTLED), lambda: sse_response(native_stream()))
    result, recorded = await _run_recorded(mode, script)
    assert result.status == "completed" and len(script.requests) == 2
    assert recorded == native_stream().encode()


@pytest.mark.parametrize("mode", MODES)
async def test_reading_stops_at_the_end_marker_whatever_follows(mode: str) -> None:
    # A proxy that breaks the connection after [DONE] must not spoil a finished answer.
    broken_after = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    script = Script(lambda: sse_response(chat_stream(), size=len(chat_stream()), error=broken_after))
    result = await run(mode, script, protocol="openai")
    assert result.status == "completed" and result.answer == "42"


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_event_after_only_metadata_is_retried_as_nothing_was_shown(mode: str) -> None:
    # The first frame carries the request id and usage but no content: the caller has seen nothing.
    script = Script(lambda: sse_response(native_frame(1) + THROTTLED), lambda: sse_response(native_stream()))
    evs = await events(mode, script)
    assert isinstance(evs[-1], Completed) and evs[-1].result.status == "completed" and len(script.requests) == 2
    assert sum(isinstance(e, StreamStarted) for e in evs) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_without_content_still_reports_its_start_and_usage_before_completed(mode: str) -> None:
    frames = native_frame(1) + native_frame(2, finish="stop", usage={"total_tokens": 33, "input_tokens": 30})
    evs = await events(mode, lambda r: sse_response(frames))
    assert isinstance(evs[0], StreamStarted) and evs[0].request_id == "rid-native"
    assert any(isinstance(e, UsageUpdated) and e.usage.total_tokens == 33 for e in evs)
    assert isinstance(evs[-1], Completed) and evs[-1].result.answer == ""


@pytest.mark.parametrize("mode", MODES)
async def test_the_partial_of_a_stream_cut_after_its_finish_reason_is_incomplete(mode: str) -> None:
    # Chat Completions: the finish reason "stop" arrived, but the usage chunk and [DONE] did not.
    cut_short = chat_stream().split("data: {")[:5]
    frames = "data: {".join(cut_short)
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, lambda r: sse_response(frames), protocol="openai")
    partial = info.value.partial
    assert partial is not None and partial.finish_reason == "stop" and partial.status == "incomplete"


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_mid_stream_carries_the_request_id_the_stream_started_with(mode: str) -> None:
    frames = (native_frame(1, reasoning="a", request_id="rid-body") + native_frame(2, content="so far")).encode()
    script = Script(lambda: sse_response(frames, error=httpx.RemoteProtocolError("incomplete chunked read")))
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, script)
    assert info.value.request_id == "rid-body"


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_before_any_content_has_no_partial(mode: str) -> None:
    script = Script(lambda: sse_response(b"", error=httpx.ReadError("reset")))
    with pytest.raises(APIConnectionError) as info:
        await run(mode, script, max_retries=0)
    assert info.value.partial is None


@pytest.mark.parametrize("mode", MODES)
async def test_a_call_past_its_total_deadline_at_the_last_byte_is_a_total_timeout(
    mode: str, fake_clock: FakeClock
) -> None:
    class LateEnd(httpx.SyncByteStream, httpx.AsyncByteStream):
        # The whole stream arrives, but the clock passes the deadline before the body ends.
        def __iter__(self) -> Iterator[bytes]:
            yield native_stream().encode()
            fake_clock.offset += 1000

        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield native_stream().encode()
            fake_clock.offset += 1000

    script = Script(lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=LateEnd()))
    with pytest.raises(APITimeoutError) as info:
        await run(mode, script, total_timeout=60)
    assert info.value.kind == "total" and "60 s" in info.value.message
