"""Behaviours no test reached before (lines a coverage run of the whole suite found never executed).

Each test names the behaviour; the break it was checked against is in its comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from qwen_ci_tool import APITimeoutError, AuthenticationError, ProtocolError
from qwen_ci_tool._classify import rate_limit_wait
from qwen_ci_tool._constants import MAX_LINE_BYTES
from qwen_ci_tool._protocols._base import RequestSpec
from qwen_ci_tool._secret import Secret

from ..conftest import PLANTED_KEY, FakeClock
from ._frames import native_stream
from ._mock import MODES, SSE, Chunks, cut, run


class _ClockMovingChunks(Chunks):
    """A body whose delivery takes *seconds* of the clients' clock after *after* pieces (no socket:
    the sync client's deadline watchdog has nothing to shut, only the loop's own check can stop it)."""

    def __init__(self, pieces: list[bytes], clock: FakeClock, after: int, seconds: float) -> None:
        super().__init__(pieces)
        self.clock, self.after, self.seconds = clock, after, seconds

    def __iter__(self) -> Iterator[bytes]:
        for index, piece in enumerate(super().__iter__()):
            if index == self.after:
                self.clock.offset += self.seconds
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        index = 0
        async for piece in super().__aiter__():
            if index == self.after:
                self.clock.offset += self.seconds
            index += 1
            yield piece


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_still_arriving_past_the_total_deadline_is_stopped_there_with_what_it_had(
    mode: str, fake_clock: FakeClock
) -> None:
    # Break: the sync client's check between chunks (`if state.expired(): raise ...("total")`) dropped:
    # a body without a socket (an injected transport) then runs past total_timeout to its end.
    body = _ClockMovingChunks(cut(native_stream().encode(), 40), fake_clock, after=20, seconds=120)
    with pytest.raises(APITimeoutError) as info:
        await run(mode, lambda r: httpx.Response(200, headers=SSE, stream=body), total_timeout=60, max_retries=0)
    err = info.value
    assert err.kind == "total" and "60 s (the total timeout)" in str(err)
    assert err.partial is not None and err.partial.request_id == "rid-native"
    if mode == "sync":  # (the async client's deadline is a cancel scope on the loop's own clock)
        assert body.served < len(body.pieces), "the rest of the body is not read"


class _EndlessLine(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that is one line without a break, a mebibyte at a time, more than any line may be."""

    def __init__(self) -> None:
        self.piece = b"data: " + b"x" * (1024 * 1024 - 6)
        self.served = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.served * len(self.piece) <= 2 * MAX_LINE_BYTES:
            self.served += 1
            yield self.piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self:
            yield piece


@pytest.mark.parametrize("mode", MODES)
async def test_a_line_without_end_is_a_protocol_error_that_says_what_to_check(mode: str) -> None:
    # Break: the engine's `except ProtocolError: raise E.worded(err)` dropped (the parser's bare fact
    # then reaches the user without a hint) or the hint not added.
    body = _EndlessLine()
    with pytest.raises(ProtocolError) as info:
        await run(mode, lambda r: httpx.Response(200, headers=SSE, stream=body), max_retries=0)
    text = str(info.value)
    assert f"longer than {MAX_LINE_BYTES} bytes without a line break" in text
    assert "a proxy may be altering the stream" in text
    assert body.served * len(body.piece) <= MAX_LINE_BYTES + len(body.piece), "it stops at the limit"


@pytest.mark.parametrize("mode", MODES)
async def test_access_denied_for_a_model_documented_over_another_protocol_says_which_protocol(mode: str) -> None:
    # Break: `if code != "Model.AccessDenied" and advice: return advice` dropped or either clause lost.
    def refused(code: str) -> Callable[[httpx.Request], httpx.Response]:
        return lambda r: httpx.Response(403, json={"code": code, "message": "denied", "request_id": "r"})

    with pytest.raises(AuthenticationError) as plain:
        await run(mode, refused("AccessDenied"), model="qwen3.6-plus", protocol="dashscope", max_retries=0)
    assert "documented for the code interpreter over `responses`" in str(plain.value)
    assert "has no access" not in str(plain.value)
    # Model.AccessDenied: the key was accepted and the model is not enabled for it, whatever the protocol.
    with pytest.raises(AuthenticationError) as model:
        await run(mode, refused("Model.AccessDenied"), model="qwen3.6-plus", protocol="dashscope", max_retries=0)
    assert "has no access to model 'qwen3.6-plus'" in str(model.value)
    assert "documented for the code interpreter over" not in str(model.value)
    # A model whose table row lists the protocol used: nothing better to say than "no access".
    with pytest.raises(AuthenticationError) as known:
        await run(mode, refused("AccessDenied"), model="qwen3-max", protocol="dashscope", max_retries=0)
    assert "has no access to model 'qwen3-max'" in str(known.value)


def test_rate_limit_headers_that_are_not_counts_are_read_as_unknown() -> None:
    # Break: `_count` without `except ValueError` (a gateway's odd header then raises out of the
    # classification of a 429).
    reset = {"x-ratelimit-reset-requests": "60s"}
    assert rate_limit_wait({**reset, "x-ratelimit-remaining-requests": "none", "x-ratelimit-limit-requests": "60"}) == 1
    assert rate_limit_wait({**reset, "x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "lots"}) == 60


def test_a_secret_cannot_be_changed_once_made() -> None:
    # Break: Secret.__setattr__ removed (a slot assignment would then replace the key silently).
    secret = Secret(PLANTED_KEY)
    with pytest.raises(AttributeError, match="immutable"):
        secret._value = "sk-other"
    assert secret.get_secret_value() == PLANTED_KEY


def test_a_request_spec_shows_its_url_and_size_never_its_headers() -> None:
    # Break: RequestSpec.__repr__ removed (the dataclass's own repr then prints the Authorization header).
    spec = RequestSpec("https://example.test/api", {"Authorization": f"Bearer {PLANTED_KEY}"}, b"{}")
    assert repr(spec) == "RequestSpec(url='https://example.test/api', body=2 bytes)"
    assert PLANTED_KEY not in repr(spec) and PLANTED_KEY not in str(spec)
