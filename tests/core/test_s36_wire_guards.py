"""Quiet and boundary effects of the wire layer (issue 26, sweep s36-wire): the engine's clamps,
header fallbacks and keep-the-first fields, the classifier's bounds, the SSE parser's bounded tables,
the watchdog's and the streams' releases. Each test fails when its one line breaks (checked by hand)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qwen_ci_tool import APIStatusError, InternalServerError, QwenCIError, RateLimitError
from qwen_ci_tool import _constants as C
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._engine import CallState

from ._frames import native_frame
from ._mock import MODES, SSE, Script, run

pytestmark = pytest.mark.usefixtures("no_backoff")

_JSON = {"content-type": "application/json"}


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(clock: _Clock, **settings: Any) -> CallState:
    settings.setdefault("api_key", "sk-test")
    return CallState(resolve_settings(**settings), [{"role": "user", "content": "q"}], clock=clock)


# --- the engine ------------------------------------------------------------------------------


def test_an_attempt_past_its_total_deadline_still_gets_positive_httpx_timeouts() -> None:
    clock = _Clock()
    state = _state(clock, total_timeout=10)
    clock.now += 25  # the deadline passed 15 s ago
    timeout = state.timeout()
    assert min(timeout.connect or 0, timeout.read or 0, timeout.write or 0, timeout.pool or 0) > 0


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_reply_without_a_request_id_takes_the_x_dashscope_request_id_header(mode: str) -> None:
    reply = httpx.Response(
        400,
        headers={**_JSON, "x-dashscope-request-id": "ds-hdr-rid"},
        content=b'{"code": "InvalidParameter", "message": "bad input"}',
    )
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.request_id == "ds-hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_300_reply_is_an_error_even_with_an_event_stream_content_type(mode: str) -> None:
    body = native_frame(1, content="fine", finish="stop").encode()
    reply = httpx.Response(300, headers=SSE, content=body)
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.status_code == 300


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_reply_with_an_error_field_even_null_is_a_service_error(mode: str) -> None:
    reply = httpx.Response(200, headers=_JSON, content=b'{"error": null, "message": "the service failed"}')
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "the service failed" in info.value.message


def test_time_to_first_event_counts_from_the_first_metadata_frame_not_a_later_one() -> None:
    clock = _Clock()
    state = _state(clock)
    state.begin_attempt()
    assert state.check_response(200, httpx.Headers(SSE))
    clock.now += 1.0
    assert state.feed(native_frame(1).encode()) == []  # metadata only: held back
    clock.now += 2.0
    assert state.feed(native_frame(2).encode()) == []
    clock.now += 3.0
    state.feed(native_frame(3, content="done", finish="stop").encode())
    result = state.finish()[-1].result
    assert result.timings.time_to_first_event == pytest.approx(1.0)


def test_an_error_that_carries_its_own_partial_result_keeps_it_when_translated() -> None:
    clock = _Clock()
    state = _state(clock)
    state.begin_attempt()
    state.check_response(200, httpx.Headers(SSE))
    state.feed(native_frame(1, content="half").encode())
    assert state.committed
    own = state.snapshot()
    err = QwenCIError("broke", partial=own)
    assert state.translate(err) is err
    assert err.partial is own


def _rate_limited(retry_after: float) -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=retry_after)


def test_a_retry_after_of_exactly_the_longest_honoured_wait_is_still_waited() -> None:
    clock = _Clock()
    state = _state(clock, total_timeout=C.MAX_RETRY_AFTER * 3, max_retries=2)
    state.begin_attempt()
    assert state.retry_delay(_rate_limited(C.MAX_RETRY_AFTER)) == C.MAX_RETRY_AFTER
    assert state.retry_delay(_rate_limited(C.MAX_RETRY_AFTER + 0.5)) is None


def test_a_retry_that_would_wait_exactly_the_time_left_is_not_made() -> None:
    clock = _Clock()
    state = _state(clock, total_timeout=10, max_retries=2)
    state.begin_attempt()
    assert state.retry_delay(_rate_limited(10.0)) is None
    assert state.retry_delay(_rate_limited(9.5)) == 9.5
