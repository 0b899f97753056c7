"""The shapes public captures of the live service and the vendor's own examples show (PROTOCOL.md,
"What real captures and the vendor's own examples show"), read through the public API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from qwen_ci_tool import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    RateLimitError,
    StreamInterruptedError,
)
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ._mock import Script, run, sse_response
from .test_client_emulator import MODES, ask

pytestmark = pytest.mark.usefixtures("no_backoff")

# The vendor's OpenAPI example of a Responses rate limit, verbatim (it comes with HTTP 200).
VENDOR_RATE_LIMIT = (
    b'{"created_at":1775189716,"error":{"code":"server_error","message":"Operation model request rate limit '
    b'exceeded, please try again later."},"id":"resp_0b5c","model":"","object":"response","output":[],'
    b'"parallel_tool_calls":false,"status":"failed","tool_choice":"auto","tools":[]}'
)
HELP = "For details, see: https://help.aliyun.com/zh/model-studio/error-code"


@pytest.mark.parametrize("mode", MODES)
async def test_the_vendors_responses_rate_limit_body_is_a_rate_limit_error(mode: str) -> None:
    script = Script(
        httpx.Response(
            200, headers={"content-type": "application/json", "x-request-id": "rid-rl"}, content=VENDOR_RATE_LIMIT
        )
    )
    with pytest.raises(RateLimitError) as caught:
        await run(mode, script, protocol="responses", max_retries=1)
    err = caught.value
    assert len(script.requests) == 2, "a rate limit is retried"
    assert err.code == "server_error" and err.request_id == "rid-rl" and err.retryable is True
    assert "rate limit exceeded" in str(err) and "failed on its side" not in str(err)
    # The service answered 200: the message must not claim a status it never sent.
    assert "inside an HTTP 200 reply" in str(err) and "HTTP 429" not in str(err)


@pytest.mark.parametrize("mode", MODES)
async def test_the_emulators_rate_limit_fault_is_the_vendors_body(mode: str, emu: Emulator) -> None:
    emu.add_fault(Fault.rate_limit_200(), times=2)
    with pytest.raises(RateLimitError) as caught:
        await ask(mode, emu, protocol="responses", max_retries=1)
    assert caught.value.code == "server_error" and caught.value.request_id
    assert "(server_error, inside an HTTP 200 reply)" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
async def test_a_workspace_host_error_gives_its_error_id_as_the_request_id(mode: str) -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided. {HELP}",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "id": "ws-rid-7",
        }
    }
    script = Script(httpx.Response(401, json=body))  # no x-request-id header: the id is only in the body
    with pytest.raises(AuthenticationError) as caught:
        await run(mode, script, protocol="openai")
    assert caught.value.request_id == "ws-rid-7"
    assert "ws-rid-7" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
async def test_the_emulator_as_a_workspace_host_gives_the_request_id_in_the_error(mode: str) -> None:
    with Emulator(workspace_host=True) as emu:
        emu.add_fault(Fault.status(401, request_id="ws-rid-8"))
        with pytest.raises(AuthenticationError) as caught:
            await ask(mode, emu, protocol="openai")
    assert caught.value.request_id == "ws-rid-8"


CHAT_ERRORS: list[tuple[int, str, str, type[Exception]]] = [
    (401, "invalid_request_error", "invalid_api_key", AuthenticationError),
    (400, "invalid_request_error", "invalid_parameter_error", BadRequestError),
    (400, "data_inspection_failed", "data_inspection_failed", ContentFilterError),
    (400, "data_inspection_failed", None, ContentFilterError),  # the code may be only in the type
    (429, "limit_requests", "limit_requests", RateLimitError),
    (429, "insufficient_quota", "insufficient_quota", RateLimitError),
    (400, "Arrearage", "Arrearage", AuthenticationError),
]


@pytest.mark.parametrize(("status", "kind", "code", "cls"), CHAT_ERRORS, ids=[f"{c[1]}-{c[2]}" for c in CHAT_ERRORS])
async def test_each_chat_error_code_maps_to_its_class(
    status: int, kind: str, code: str | None, cls: type[Exception]
) -> None:
    error: dict[str, Any] = {"message": f"The service says no. {HELP}", "type": kind, "param": None, "code": code}
    script = Script(httpx.Response(status, json={"error": error, "request_id": "rid-c"}))
    with pytest.raises(cls) as caught:
        await run("sync", script, protocol="openai", max_retries=0)
    assert caught.value.request_id == "rid-c"  # type: ignore[attr-defined]


async def test_quota_used_up_and_arrears_say_calling_again_will_not_help() -> None:
    quota = {
        "error": {
            "message": "You exceeded your current quota.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    script = Script(httpx.Response(429, json=quota))
    with pytest.raises(RateLimitError, match="calling again will not help") as caught:
        await run("sync", script, protocol="openai", max_retries=2)
    assert caught.value.retryable is False and len(script.requests) == 1
    arrears = {
        "error": {
            "message": "Access denied, please make sure your account is in good standing.",
            "type": "Arrearage",
            "param": None,
            "code": "Arrearage",
        }
    }
    with pytest.raises(AuthenticationError, match="overdue: top it up"):
        await run("sync", Script(httpx.Response(400, json=arrears)), protocol="openai", max_retries=0)


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_error_inside_the_stream_keeps_what_arrived_and_the_request_id(mode: str) -> None:
    chunk = {
        "choices": [{"delta": {"content": "Partial", "reasoning_content": None}, "finish_reason": None, "index": 0}],
        "object": "chat.completion.chunk",
        "id": "chatcmpl-1",
    }
    error = {
        "error": {
            "message": f"Input or output data may contain inappropriate content. {HELP}",
            "type": "data_inspection_failed",
            "param": None,
            "code": "data_inspection_failed",
        },
        "id": "chatcmpl-1",
    }
    body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error)}\n\n"
    with pytest.raises(ContentFilterError) as caught:
        await run(mode, Script(sse_response(body)), protocol="openai")
    assert caught.value.partial is not None and caught.value.partial.answer == "Partial"
    assert caught.value.request_id == "hdr-rid"


async def _cut(
    mode: str, emu: Emulator, last: int, protocol: str, question: str = SEED_QUESTION
) -> StreamInterruptedError:
    """Ask with the stream cut *last* events before its end: the error it is interrupted with."""
    emu.add_fault(Fault.truncate(last=last))
    with pytest.raises(StreamInterruptedError) as caught:
        await ask(mode, emu, question, protocol=protocol)
    return caught.value


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_stream_cut_before_its_usage_chunk_is_interrupted_with_the_whole_answer_kept(
    mode: str, emu: Emulator
) -> None:
    error = await _cut(mode, emu, 2, "openai")
    partial = error.partial
    assert partial is not None and SEED_ANSWER in partial.answer
    assert partial.status == "incomplete" and partial.finish_reason == "stop" and partial.usage.total_tokens == 0
    assert "usage was lost" in str(error) and error.request_id
    assert len(emu.requests) == 1, "never retried: the answer had been delivered"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_stream_cut_after_its_usage_chunk_but_before_done_is_interrupted_too(
    mode: str, emu: Emulator
) -> None:
    partial = (await _cut(mode, emu, 1, "openai")).partial
    assert partial is not None and partial.usage.total_tokens > 0


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_stream_cut_before_response_completed_keeps_the_code_and_its_output(
    mode: str, emu: Emulator
) -> None:
    partial = (await _cut(mode, emu, 1, "responses", TWO_RUN_QUESTION)).partial
    assert partial is not None and "2.338016430028866e+47" in partial.answer
    assert [r.output for r in partial.code_runs] == [
        "1169008215014432917465348578887506800769541157267",
        "2.338016430028866e+47",
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_both_spellings_of_the_responses_reasoning_events_give_the_same_reasoning(
    mode: str, emu: Emulator
) -> None:
    plain = await ask(mode, emu, protocol="responses")
    emu.add_fault(Fault.reasoning_summary())
    summary = await ask(mode, emu, protocol="responses")
    assert plain.reasoning and summary.reasoning == plain.reasoning
    assert summary.answer == plain.answer and summary.status == "completed"


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_error_whose_status_is_only_in_the_comment_line_keeps_that_status(mode: str) -> None:
    body = (
        "id:1\nevent:error\n:HTTP_STATUS/400\n"
        'data:{"code":"InvalidParameter","message":"url error, please check url\uff01 For details, see: x","request_id":"rid-n"}\n\n'
    )
    with pytest.raises(BadRequestError) as caught:
        await run(mode, Script(sse_response(body)), max_retries=2)
    assert caught.value.status_code == 400 and caught.value.code == "InvalidParameter"
    assert caught.value.request_id == "rid-n"


@pytest.mark.parametrize("mode", MODES)
async def test_the_responses_stream_in_the_vendors_framing_gives_the_full_record(mode: str, emu: Emulator) -> None:
    result = await ask(mode, emu, TWO_RUN_QUESTION, protocol="responses")
    assert result.status == "completed" and result.usage.code_interpreter_calls == 2
    assert [r.output for r in result.code_runs] == [
        "1169008215014432917465348578887506800769541157267",
        "2.338016430028866e+47",
    ]
    assert result.model == "qwen3-max"  # response.created says model "": the model is the one asked for
