"""Behaviours of the core the first wave of hand breaks left unpinned (issue 26, helper left): when the
first event of a call is timed, what counts as the stream's start, when an event after the first content is
handed over, what a recording of a stream cut before any content holds. Each test names the behaviour; the
break it was checked against (it fails with it) is in its comment."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from qwen_ci_tool import ProtocolError, StreamInterruptedError, UsageUpdated, _client

from ._frames import chat_chunk, native_frame, responses_event
from ._mock import MODES, SSE, Chunks, Script, clients, run, sse_response


class SteppingClock:
    """A clock that moves only when told: one second per piece of the body served."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Ticking(Chunks):
    """A body whose every piece is served one second after the one before (on the stepping clock)."""

    def __init__(self, pieces: list[bytes], clock: SteppingClock) -> None:
        super().__init__(pieces)
        self.clock = clock

    def __iter__(self) -> Iterator[bytes]:
        for piece in super().__iter__():
            self.clock.now += 1.0
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in super().__aiter__():
            self.clock.now += 1.0
            yield piece


@pytest.mark.parametrize("mode", MODES)
async def test_the_time_to_first_event_is_when_the_first_frame_arrived_not_the_first_content(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break: `_commit` setting first_event_at on every call, not only the first (keep-the-first lost): the
    # time was taken at the frame that first carried content (2 s), not the first frame (1 s).
    clock = SteppingClock()
    monkeypatch.setattr(_client, "_clock", clock)
    pieces = [
        native_frame(1).encode(),  # the stream starts: request id and usage, no content yet
        native_frame(2).encode(),  # still nothing to show
        native_frame(3, reasoning="Let me think").encode(),
        native_frame(4, content="42", finish="stop").encode(),
    ]
    body = Ticking(pieces, clock)
    result = await run(mode, Script(httpx.Response(200, headers=SSE, stream=body)), max_retries=0)
    assert result.answer == "42" and body.served == 4
    assert result.timings.time_to_first_event == 1.0
    assert result.timings.total_time == 4.0


@pytest.mark.parametrize("mode", MODES)
async def test_the_time_to_first_event_does_not_count_keepalive_comments_before_the_first_frame(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break: `feed` committing also when the bytes gave no event (`if out and not self.committed` ->
    # `if not self.committed`): the first keepalive comment (1 s) was timed as the first event (2 s).
    clock = SteppingClock()
    monkeypatch.setattr(_client, "_clock", clock)
    pieces = [b": keepalive\n\n", native_frame(1, reasoning="Let me think").encode()]
    pieces.append(native_frame(2, content="42", finish="stop").encode())
    body = Ticking(pieces, clock)
    result = await run(mode, Script(httpx.Response(200, headers=SSE, stream=body)), max_retries=0)
    assert result.answer == "42" and result.timings.time_to_first_event == 2.0


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_of_keepalive_comments_alone_is_an_empty_event_stream(mode: str) -> None:
    # Break: the same (`if out and` dropped): bytes without an event counted as the stream's start, so the
    # call ended as "the stream ended before the service finished" instead of an empty event stream.
    body = Chunks([b": keepalive\n\n", b": keepalive\n\n"])
    with pytest.raises(ProtocolError, match="empty event stream") as caught:
        await run(mode, Script(httpx.Response(200, headers=SSE, stream=body)), max_retries=0)
    assert caught.value.partial is None and caught.value.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_usage_update_after_the_first_content_is_handed_over_as_its_frame_arrives(mode: str) -> None:
    # Break: `feed` passing every decoded batch through `_commit`, also after the commit (`if out and not
    # self.committed` -> `if out`): a frame that only updated the usage was held back until the next frame.
    pieces = [native_frame(1, reasoning="Let me think"), native_frame(2), native_frame(3, content="42", finish="stop")]
    body = Chunks([piece.encode() for piece in pieces])
    sync, asyn = clients(Script(httpx.Response(200, headers=SSE, stream=body)), max_retries=0)
    served: list[int] = []
    if mode == "sync":
        with sync, sync.stream("q") as stream:
            served += [body.served for event in stream if isinstance(event, UsageUpdated)]
    else:
        async with asyn, asyn.stream("q") as astream:
            served += [body.served async for event in astream if isinstance(event, UsageUpdated)]
    assert served == [1, 2, 3]


async def _run_recorded(mode: str, script: Script, record: io.BytesIO) -> None:
    sync, asyn = clients(script, max_retries=0)
    if mode == "sync":
        with sync:
            sync.run("q", record=record)
    else:
        async with asyn:
            await asyn.run("q", record=record)


@pytest.mark.parametrize("mode", MODES)
async def test_a_recording_of_a_stream_cut_before_any_content_still_holds_what_arrived(mode: str) -> None:
    # Break: `finish` not flushing the bytes held back until the commit (`_flush_record()` dropped): a stream
    # that ended before its first content left an empty recording, nothing to replay the failure from.
    frame = native_frame(1)  # the stream starts (request id, usage), then the connection closes
    record = io.BytesIO()
    with pytest.raises(StreamInterruptedError, match="ended before the service finished"):
        await _run_recorded(mode, Script(sse_response(frame)), record)
    assert record.getvalue() == frame.encode()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", ["openai", "responses"])
@pytest.mark.parametrize("data", ["data:\n\n", "data: \n\n"], ids=["empty-data", "blank-data"])
async def test_a_chat_or_responses_event_with_empty_data_is_malformed_json_as_the_openai_sdk_reads_it(
    mode: str, protocol: str, data: str
) -> None:
    # Break: the decoders' `_object` reading empty data as `{}` (`loads(data) if data else {}`): the frame
    # was skipped silently on these two protocols, where the native one (audit 9, c13) says malformed JSON.
    if protocol == "openai":
        stream = chat_chunk({"content": None, "reasoning_content": "Let me think"}) + data
    else:
        thinking = responses_event("response.reasoning_text.delta", delta="Let me think")
        stream = thinking + "event: response.output_text.delta\n" + data
    with pytest.raises(ProtocolError, match="The stream carried malformed JSON") as info:
        await run(mode, Script(sse_response(stream)), protocol=protocol, max_retries=0)
    assert info.value.partial is not None and info.value.partial.reasoning == "Let me think"
