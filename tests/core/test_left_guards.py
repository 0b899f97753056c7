"""Behaviours of the core the first wave of hand breaks left unpinned (issue 26, helper left): when the
first event of a call is timed. Each test names the behaviour; the break it was checked against (it fails
with it) is in its comment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from qwen_ci_tool import _client

from ._frames import native_frame
from ._mock import MODES, SSE, Chunks, Script, run


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
