"""Behaviours audit 12 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import (
    AdaptiveLimiter,
    BadRequestError,
    CodeInterpreterResult,
    InternalServerError,
    StreamInterruptedError,
    Usage,
)

from ._frames import native_stream, responses_event
from ._mock import MODES, SSE, Script, run, sse_response
from .test_limiter_guards_more import _bunch

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_second_paced_bunch_admitted_in_part_never_shrinks_the_burst_below_what_it_just_admitted() -> None:
    limiter = AdaptiveLimiter(8)
    _bunch(limiter, 0.0, admitted=2, refused=0)  # two started together, both admitted: bursts of two
    assert limiter.burst == 2
    _bunch(limiter, 1.0, admitted=0, refused=1)  # the rate is known from here: later bunches are paced
    _bunch(limiter, 5.0, admitted=2, refused=1)  # in part once: an overshoot, no verdict
    assert limiter.burst == 2
    _bunch(limiter, 9.0, admitted=2, refused=1)  # in part twice in a row, but two went through at once
    assert limiter.burst == 2


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_objects_own_id_is_the_request_id_over_the_response_headers(mode: str) -> None:
    # A workspace host (*.maas.aliyuncs.com) names the request in the error object, with no top-level
    # request_id; the header's id is only the fallback.
    body = {"error": {"id": "ws-req-9", "code": "InvalidParameter", "message": "bad"}}
    script = Script(httpx.Response(400, headers={"x-request-id": "hdr-req-1"}, json=body))
    with pytest.raises(BadRequestError) as caught:
        await run(mode, script, protocol="openai", max_retries=0)
    assert caught.value.request_id == "ws-req-9"


def test_an_exported_script_of_a_result_with_an_empty_request_id_names_no_request_id() -> None:
    def result(request_id: str | None) -> CodeInterpreterResult:
        return CodeInterpreterResult(
            answer="a",
            reasoning="",
            code_runs=(),
            steps=(),
            usage=Usage(),
            request_id=request_id,
            model="m",
            protocol="responses",
            finish_reason="stop",
            status="completed",
        )

    plain = "# Qwen code interpreter run: model m via responses; status completed."
    assert result("").to_script().splitlines()[0] == plain
    assert result(None).to_script().splitlines()[0] == plain
    assert result("rid-1").to_script().splitlines()[0] == (
        "# Qwen code interpreter run: model m via responses, request id rid-1; status completed."
    )


@pytest.mark.parametrize("mode", MODES)
async def test_the_workspace_header_carries_the_workspace_id_exactly_as_given(mode: str) -> None:
    script = Script(lambda: sse_response(native_stream()))
    await run(mode, script, protocol="dashscope", workspace="ws-AbC123")
    assert script.requests[0].headers["x-dashscope-workspace"] == "ws-AbC123"


@pytest.mark.parametrize("mode", MODES)
async def test_a_failed_responses_frame_without_an_error_object_is_the_services_failure_not_a_broken_stream(
    mode: str,
) -> None:
    # A frame under another name with status "failed" ends the call with the service's error even when
    # it names no error: the stream did not break, the service said it failed.
    stream = responses_event("response.created", response={"id": "resp_1", "status": "queued"}) + responses_event(
        "response.cancelled", status="failed", id="resp_1"
    )
    script = Script(lambda: sse_response(stream, headers=SSE))
    with pytest.raises(InternalServerError) as caught:
        await run(mode, script, protocol="responses", max_retries=0)
    assert not isinstance(caught.value, StreamInterruptedError)
    assert "The service returned an error (inside an HTTP 200 reply): no message." in str(caught.value)
    assert "failed on its side" in str(caught.value)
