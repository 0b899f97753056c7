"""Quiet effects of the clients, the engine, the streams and the protocols (sweep s37-corea): each
test guards one promise a one-line break there left unguarded (checked both ways by hand)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from qwen_ci_tool import (
    APIStatusError,
    AsyncCodeInterpreter,
    AuthenticationError,
    CodeInterpreter,
    QwenCIError,
    StreamInterruptedError,
)
from qwen_ci_tool import _constants as C
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import FakeClock
from ._frames import chat_chunk, chat_stream, native_frame, native_stream
from ._mock import MODES, Script, clients, run, sse_response
from .test_sse import parse

pytestmark = pytest.mark.usefixtures("no_backoff")


async def _run_many(mode: str, emu: Emulator, tasks: list[str], **kw: Any) -> list[str]:
    settings = {"api_key": "sk-test", "base_url": emu.base_url, "max_retries": 0}
    statuses: list[str] = []
    with anyio.fail_after(30):
        if mode == "sync":
            with CodeInterpreter(**settings) as ci:
                statuses += [o.status for o in ci.run_many(tasks, **kw)]
                connections = emu.active_connections
        else:
            async with AsyncCodeInterpreter(**settings) as aci:
                statuses += [o.status async for o in aci.run_many(tasks, **kw)]
                connections = emu.active_connections
    return [*statuses, f"connections={connections}"]


@pytest.mark.parametrize("mode", MODES)
async def test_run_many_with_concurrency_one_runs_the_tasks_one_after_another(mode: str) -> None:
    """``run_many(concurrency=1)`` without a limiter: at most one call at once (one pooled connection)."""
    with Emulator(pace=0.01) as emu:
        out = await _run_many(mode, emu, [SEED_QUESTION] * 3, concurrency=1)
    assert out == ["completed"] * 3 + ["connections=1"]


# --- the SSE parser --------------------------------------------------------------------------


def test_a_field_value_is_everything_after_the_first_colon() -> None:
    """An ``event:`` value that holds a colon keeps it whole (the SSE spec cuts at the first colon)."""
    assert parse(b"event: vendor:update\ndata:{}\n\n") == [("vendor:update", b"{}", None, None)]


# --- the clients' loops and streams ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_connection_reset_after_the_end_marker_does_not_fail_the_call(mode: str) -> None:
    """Reading stops at the protocol's end marker ([DONE]): what the connection does after it is not the call's."""
    reply = sse_response(chat_stream(), error=httpx.ReadError("connection reset by peer"))
    result = await run(mode, Script(reply), protocol="openai", max_retries=0)
    assert (result.status, result.answer) == ("completed", "42")


@pytest.mark.parametrize("mode", MODES)
async def test_a_streams_snapshot_after_the_end_is_the_final_result(mode: str) -> None:
    """``snapshot()`` once the stream has ended gives the final result, not an incomplete copy."""
    sync, asyn = clients(Script(sse_response(native_stream())))
    if mode == "sync":
        with sync, sync.stream("q") as stream:
            result = stream.get_final_result()
            snapshot = stream.snapshot()
    else:
        async with asyn, asyn.stream("q") as astream:
            result = await astream.get_final_result()
            snapshot = astream.snapshot()
    assert snapshot.status == "completed"
    assert snapshot is result


async def _closed_early_error(mode: str) -> QwenCIError:
    """The error of ``get_final_result()`` on a stream closed after its first reasoning event."""
    sync, asyn = clients(Script(sse_response(native_stream())))
    try:
        if mode == "sync":
            with sync, sync.stream("q") as stream:
                next(e for e in stream if type(e).__name__ == "ReasoningDelta")
                stream.close()
                stream.get_final_result()
        else:
            async with asyn, asyn.stream("q") as astream:
                async for event in astream:
                    if type(event).__name__ == "ReasoningDelta":
                        break
                await astream.aclose()
                await astream.get_final_result()
    except QwenCIError as exc:
        return exc
    raise AssertionError("get_final_result() on a stream closed early did not raise")


@pytest.mark.parametrize("mode", MODES)
async def test_the_final_result_of_a_stream_closed_early_carries_what_had_arrived(mode: str) -> None:
    """Asking a closed, unfinished stream for its final result raises with ``partial``: what had arrived."""
    partial = (await _closed_early_error(mode)).partial
    assert partial is not None
    assert (partial.status, partial.reasoning) == ("incomplete", "I will")


# --- the engine ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_401_from_a_base_url_the_caller_chose_asks_for_a_key_that_endpoint_accepts(mode: str) -> None:
    """A refused key at a chosen endpoint names that endpoint, not the region to switch to."""
    reply = httpx.Response(
        401, headers={"content-type": "application/json"}, content=b'{"code":"InvalidApiKey","message":"bad key"}'
    )
    with pytest.raises(AuthenticationError) as info:
        await run(mode, Script(reply), base_url="https://gateway.example.com/api/v1")
    assert str(info.value).endswith(
        "Check the API key in the api_key= argument. Keys are per region and workspace: use a key that "
        "https://gateway.example.com (base_url) accepts."
    )


@pytest.mark.parametrize("mode", MODES)
async def test_a_drop_after_metadata_alone_is_retried_as_a_failed_connection(mode: str) -> None:
    """Only content commits a call: a connection that breaks after a frame with no content is retried."""
    metadata_only = sse_response(native_frame(1), error=httpx.ReadError("connection reset by peer"))
    script = Script(metadata_only, sse_response(native_stream()))
    result = await run(mode, script, max_retries=1)
    assert (result.status, len(script.requests)) == ("completed", 2)


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_that_breaks_names_the_request_id_its_frames_gave(mode: str) -> None:
    """A mid-stream break names the request id the frames carried when no header gave one."""
    reply = sse_response(
        native_frame(1, reasoning="I will"),
        error=httpx.ReadError("connection reset by peer"),
        headers={"content-type": "text/event-stream"},
    )
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.request_id == "rid-native"


@pytest.mark.parametrize("mode", MODES)
async def test_the_first_retry_waits_at_most_the_initial_delay_less_a_jitter_of_a_quarter(
    mode: str, fake_clock: FakeClock
) -> None:
    """The jitter only shortens a wait: the first retry waits between 75 % and 100 % of the initial delay."""
    refused = httpx.Response(503, json={"code": "ServiceUnavailable", "message": "busy"})
    result = await run(mode, Script(refused, sse_response(native_stream())), max_retries=1)
    assert result.status == "completed" and len(fake_clock.sleeps) == 1
    assert 0.75 * C.INITIAL_RETRY_DELAY <= fake_clock.sleeps[0] <= C.INITIAL_RETRY_DELAY


# --- the protocols ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["dashscope", "openai", "responses"])
async def test_a_workspace_is_sent_in_the_header_spelled_as_the_vendor_sdk_spells_it(protocol: str) -> None:
    """``workspace=`` goes out as ``X-DashScope-WorkSpace`` (the vendor SDK's spelling, byte for byte)."""
    script = Script(httpx.Response(400, json={"code": "InvalidParameter", "message": "bad input"}))
    with pytest.raises(APIStatusError):  # only the request matters here
        await run("sync", script, protocol=protocol, workspace="ws-1", max_retries=0)
    assert [(k, v) for k, v in script.requests[0].headers.raw if k.lower() == b"x-dashscope-workspace"] == [
        (b"X-DashScope-WorkSpace", b"ws-1")
    ]


async def test_a_native_request_asks_proxies_not_to_buffer_the_stream() -> None:
    """The native request sends ``X-Accel-Buffering: no`` with ``X-DashScope-SSE: enable``."""
    script = Script(sse_response(native_stream()))
    await run("sync", script, protocol="dashscope")
    headers = script.requests[0].headers
    assert (headers.get("X-DashScope-SSE"), headers.get("X-Accel-Buffering")) == ("enable", "no")


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_finish_reason_that_is_not_a_string_is_no_finish_reason(mode: str) -> None:
    """Only a string ends a Chat Completions answer: a stream whose finish reason is a number ended early."""
    stream = chat_chunk({"content": "42"}) + chat_chunk({}, finish=7) + "data: [DONE]\n\n"  # type: ignore[arg-type]
    with pytest.raises(StreamInterruptedError):
        await run(mode, Script(sse_response(stream)), protocol="openai", max_retries=0)


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_frame_with_only_an_error_code_is_the_services_error(mode: str) -> None:
    """A native frame with no output and a ``code`` (even without a message) is the service's error."""
    frame = 'event:result\ndata:{"code":"InvalidParameter","request_id":"rid-1"}\n\n'
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(sse_response(frame)), max_retries=0)
    assert info.value.code == "InvalidParameter"


async def test_a_multimodal_request_keeps_content_already_given_as_parts() -> None:
    """On the multimodal path only string content is wrapped into parts; a list of parts is sent as given."""
    script = Script(sse_response(native_stream()))
    sync, _ = clients(script, model="qwen3.6-plus", protocol="dashscope")
    with sync:
        sync.run(messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert json.loads(script.requests[0].content)["input"]["messages"] == [
        {"role": "user", "content": [{"text": "hi"}]}
    ]
