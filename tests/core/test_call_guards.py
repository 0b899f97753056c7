"""Decisions a call makes (timeouts, request ids, retries, commits), each pinned through the public
clients over an httpx MockTransport: every test here fails when the one line it guards breaks."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import APIStatusError, APITimeoutError, InternalServerError, RateLimitError

from ..conftest import FakeClock
from ._frames import native_frame
from ._mock import MODES, SSE, Chunks, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
async def test_the_connect_timeout_never_outlasts_what_is_left_of_the_total_timeout(mode: str) -> None:
    script = Script(lambda: sse_response(native_frame(1, content="ok", finish="stop")))
    await run(mode, script, connect_timeout=30, idle_timeout=40, total_timeout=5)
    timeout = script.requests[0].extensions["timeout"]
    assert 0 < timeout["connect"] <= 5 and 0 < timeout["write"] <= 5 and 0 < timeout["pool"] <= 5
    assert 0 < timeout["read"] <= 5


@pytest.mark.parametrize("mode", MODES)
async def test_an_idle_timeout_names_the_idle_timeouts_seconds(mode: str) -> None:
    stalled = httpx.Response(200, headers=SSE, stream=Chunks([], httpx.ReadTimeout("read timed out")))
    with pytest.raises(APITimeoutError) as info:
        await run(mode, Script(stalled), connect_timeout=3, idle_timeout=17, total_timeout=600)
    assert info.value.kind == "idle" and "17 s" in info.value.message and "3 s" not in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_connect_timeout_names_the_connect_timeouts_seconds(mode: str) -> None:
    with pytest.raises(APITimeoutError) as info:
        await run(
            mode, Script(httpx.ConnectTimeout("connect timed out")), connect_timeout=3, idle_timeout=17, max_retries=0
        )
    assert info.value.kind == "connect" and "3 s" in info.value.message and "17 s" not in info.value.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "timeout",
    [httpx.ConnectTimeout("connect"), httpx.PoolTimeout("pool"), httpx.WriteTimeout("write")],
    ids=["connect", "pool", "write"],
)
async def test_a_timeout_before_the_request_was_sent_is_a_connect_timeout_and_is_retried(
    mode: str, timeout: httpx.TimeoutException
) -> None:
    # Breaks: a kind dropped from the "connect" timeouts (it would be an idle timeout, never retried).
    script = Script(timeout, lambda: sse_response(native_frame(1, content="42", finish="stop")))
    assert (await run(mode, script, max_retries=1)).answer == "42"
    assert len(script.requests) == 2
    with pytest.raises(APITimeoutError) as info:
        await run(mode, Script(timeout), connect_timeout=3, idle_timeout=17, max_retries=0)
    assert info.value.kind == "connect" and "3 s" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_the_dashscope_request_id_header_names_a_failed_request(mode: str) -> None:
    failed = httpx.Response(
        500, headers={"x-dashscope-request-id": "ds-rid-9"}, json={"code": "InternalError", "message": "boom"}
    )
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(failed), max_retries=0)
    assert info.value.request_id == "ds-rid-9"


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_reply_with_a_nested_error_is_the_services_error_not_a_protocol_error(mode: str) -> None:
    reply = httpx.Response(200, json={"error": {"code": "InternalError", "message": "the backend fell over"}})
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "the backend fell over" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_reply_that_only_says_failed_is_a_service_failure(mode: str) -> None:
    reply = httpx.Response(200, json={"id": "resp_1", "object": "response", "status": "failed"})
    with pytest.raises(InternalServerError):
        await run(mode, Script(reply), max_retries=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", [httpx.ConnectTimeout("connect timed out"), httpx.ReadError("socket shut")])
async def test_a_failure_found_past_the_total_deadline_is_reported_as_the_total_timeout(
    mode: str, failure: Exception, fake_clock: FakeClock
) -> None:
    def late(request: httpx.Request) -> httpx.Response:
        fake_clock.offset += 1000  # the deadline passed while this attempt was under way
        raise failure

    with pytest.raises(APITimeoutError) as info:
        await run(mode, late, total_timeout=60)
    assert info.value.kind == "total" and "60 s" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_retry_after_past_the_total_deadline_is_not_waited_for(mode: str, fake_clock: FakeClock) -> None:
    throttled = httpx.Response(429, headers={"retry-after": "45"}, json={"code": "Throttling", "message": "later"})
    script = Script(throttled)
    with pytest.raises(RateLimitError):
        await run(mode, script, max_retries=3, total_timeout=30)
    assert len(script.requests) == 1 and fake_clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
async def test_an_overloaded_service_that_said_when_to_come_back_is_reported_with_its_wait(mode: str) -> None:
    # A 503 with Retry-After, once the retries are spent: the caller learns the wait, as for a 429.
    busy = httpx.Response(
        503, headers={"Retry-After": "30"}, json={"code": "ServiceUnavailable", "message": "Server is overloaded."}
    )
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(busy), max_retries=0)
    assert info.value.retry_after == 30 and info.value.message.endswith(" The service asked to wait 30 s.")
