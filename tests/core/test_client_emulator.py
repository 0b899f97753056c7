"""The clients against the emulator over real loopback sockets: every protocol, sync and async,
the seed conversations, faults, timeouts firing while a stream stalls, and prompt release."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from qwen_ci_tool import (
    APIConnectionError,
    APITimeoutError,
    AsyncCodeInterpreter,
    AuthenticationError,
    CodeInterpreter,
    InternalServerError,
    ProtocolError,
    QwenCIError,
    RateLimitError,
    StreamInterruptedError,
    _constants,
)
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ._mock import MODES

PROTOCOLS = ["dashscope", "openai", "responses"]
TWO_RUN_CODES = ["123**23", "1169008215014432917465348578887506800769541157267 / 5"]


pytestmark = pytest.mark.usefixtures("no_backoff")


async def ask(mode: str, emu: Emulator, question: str = SEED_QUESTION, **settings: Any) -> Any:
    settings = {"api_key": "sk-test", "base_url": emu.base_url, **settings}
    if mode == "sync":
        with CodeInterpreter(**settings) as ci:
            return ci.run(question)
    async with AsyncCodeInterpreter(**settings) as aci:
        return await aci.run(question)


async def timeout_of(mode: str, emu: Emulator, fault: Fault, **settings: Any) -> APITimeoutError:
    """The timeout error a call with these settings ends in, against this fault (bounded)."""
    emu.add_fault(fault)
    with anyio.fail_after(10):
        with pytest.raises(APITimeoutError) as info:
            await ask(mode, emu, **settings)
    return info.value


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_seed_question_is_answered_over_every_protocol(mode: str, protocol: str, emu: Emulator) -> None:
    result = await ask(mode, emu, protocol=protocol)
    assert SEED_ANSWER in result.answer and result.status == "completed"
    assert result.usage.total_tokens > 0 and result.request_id
    if protocol == "openai":
        assert result.code_runs == () and not result.code_returned
    else:
        assert [r.code for r in result.code_runs] == ["123**21"]
        assert result.usage.code_interpreter_calls == 1


@pytest.mark.parametrize("mode", MODES)
async def test_the_two_run_conversation_over_openai_answers_without_code(mode: str, emu: Emulator) -> None:
    result = await ask(mode, emu, TWO_RUN_QUESTION, protocol="openai")
    assert "2.338016430028866e+47" in result.answer and result.code_runs == () and result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", ["dashscope", "responses"])
async def test_two_code_runs_arrive_in_order_with_the_placeholder_filled(
    mode: str, protocol: str, emu: Emulator
) -> None:
    result = await ask(mode, emu, TWO_RUN_QUESTION, protocol=protocol)
    assert [r.code for r in result.code_runs] == TWO_RUN_CODES
    assert [s.kind for s in result.steps if s.kind == "code"] == ["code", "code"]
    assert result.usage.code_interpreter_calls == 2
    if protocol == "responses":
        assert [r.output for r in result.code_runs] == [
            "1169008215014432917465348578887506800769541157267",
            "2.338016430028866e+47",
        ]


@pytest.mark.parametrize("mode", MODES)
async def test_the_multimodal_path_serves_qwen3_5_models_natively(mode: str, emu: Emulator) -> None:
    result = await ask(mode, emu, model="qwen3.5-plus")
    assert SEED_ANSWER in result.answer and result.code_runs[0].code == "123**21"
    assert emu.requests[-1].path.endswith("/multimodal-generation/generation")


@pytest.mark.parametrize("mode", MODES)
async def test_the_legacy_responses_path_works(mode: str, emu: Emulator) -> None:
    result = await ask(mode, emu, protocol="responses", responses_path=_constants.LEGACY_RESPONSES_PATH)
    assert SEED_ANSWER in result.answer and emu.requests[-1].path == _constants.LEGACY_RESPONSES_PATH


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("fault", "error", "partial"),
    [
        (Fault.status(401), AuthenticationError, False),
        (Fault.status(500, body="html"), InternalServerError, False),
        (Fault.drop(after_events=8), StreamInterruptedError, True),
        (Fault.error_event(after_events=8, code="InternalError", status=500), InternalServerError, True),
        (Fault.malformed_json(after_events=8), ProtocolError, True),
        (Fault.content_type(), ProtocolError, False),
        (Fault.empty_body(), ProtocolError, False),
    ],
    ids=["401", "500-html", "drop", "error-event", "malformed", "content-type", "empty-body"],
)
async def test_faults_end_in_the_right_error_over_every_protocol(
    mode: str, protocol: str, fault: Fault, error: type, partial: bool, emu: Emulator
) -> None:
    emu.add_fault(fault, times=3)
    with pytest.raises(error) as info:
        await ask(mode, emu, protocol=protocol, max_retries=0)
    err = info.value
    assert type(err) is error and err.request_id
    if partial:
        assert err.partial is not None and err.partial.status == "incomplete" and err.partial.reasoning
    else:
        assert err.partial is None
    assert emu.wait_for_connections(0, timeout=5), "the connection is released"


@pytest.mark.parametrize("mode", MODES)
async def test_a_refused_key_given_as_an_argument_is_named_as_that_argument_not_the_environment_variable(
    mode: str, emu: Emulator
) -> None:
    emu.add_fault(Fault.status(401))
    with pytest.raises(AuthenticationError) as info:
        await ask(mode, emu, max_retries=0)  # ask() passes api_key=
    assert "Check the API key in the api_key= argument." in str(info.value)
    assert "DASHSCOPE_API_KEY" not in str(info.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_429_then_success_is_retried_transparently(mode: str, protocol: str, emu: Emulator) -> None:
    emu.add_fault(Fault.status(429, retry_after="0"))
    result = await ask(mode, emu, protocol=protocol)
    assert result.status == "completed" and len(emu.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_the_responses_rate_limit_in_a_200_is_a_rate_limit_error(mode: str, emu: Emulator) -> None:
    emu.add_fault(Fault.rate_limit_200(), times=5)
    with pytest.raises(RateLimitError):
        await ask(mode, emu, protocol="responses", max_retries=1)
    assert len(emu.requests) == 2, "retried once: nothing had been consumed"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "fault",
    [
        Fault.line_endings("\r\n"),
        Fault.line_endings("\r"),
        Fault.keepalive(),
        Fault.unknown_fields(),
        Fault.chunks([1, 2, 3, 5, 7, 11, 13]),
    ],
    ids=["crlf", "cr", "keepalive", "unknown-fields", "awkward-chunks"],
)
async def test_framing_variants_give_the_same_result(mode: str, fault: Fault, emu: Emulator) -> None:
    emu.add_fault(fault)
    result = await ask(mode, emu)
    assert SEED_ANSWER in result.answer and result.code_runs[0].code == "123**21" and result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
async def test_a_length_finish_is_an_incomplete_result(mode: str, emu: Emulator) -> None:
    emu.add_fault(Fault.finish_reason("length"))
    result = await ask(mode, emu)
    assert result.status == "incomplete" and result.finish_reason == "length"


@pytest.mark.parametrize("mode", MODES)
async def test_the_idle_timeout_fires_while_the_stream_stalls_and_keeps_the_partial(mode: str, emu: Emulator) -> None:
    err = await timeout_of(mode, emu, Fault.stall(after_events=8, seconds=60), idle_timeout=0.3)
    assert err.kind == "idle" and "idle_timeout" in str(err)
    assert err.partial is not None and err.partial.reasoning
    assert emu.wait_for_connections(0, timeout=5)


@pytest.mark.parametrize("mode", MODES)
async def test_the_total_timeout_fires_during_a_blocked_read(mode: str, emu: Emulator) -> None:
    err = await timeout_of(mode, emu, Fault.stall(after_events=8, seconds=60), idle_timeout=30, total_timeout=0.5)
    assert err.kind == "total" and "total_timeout" in str(err)
    assert err.partial is not None


class _UncappedReads(httpx.HTTPTransport):
    """A real transport whose read timeout is not capped at the call's total deadline: a blocked
    read then returns only if the sync client's total-deadline watchdog shuts the socket."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["timeout"] = {**request.extensions["timeout"], "read": 60.0}
        return super().handle_request(request)


async def test_the_sync_watchdog_ends_a_blocked_read_at_the_total_deadline(emu: Emulator) -> None:
    emu.add_fault(Fault.stall(after_events=8, seconds=60))
    client = CodeInterpreter(
        api_key="sk-test",
        base_url=emu.base_url,
        idle_timeout=60,
        total_timeout=0.5,
        http_client=httpx.Client(transport=_UncappedReads()),
    )

    def ask_sync() -> BaseException | None:
        try:
            client.run(SEED_QUESTION)
        except APITimeoutError as err:
            return err
        return None

    with client:
        # The call runs in a thread so that this bound holds even if nothing wakes the read.
        with anyio.fail_after(10):
            err = await anyio.to_thread.run_sync(ask_sync, abandon_on_cancel=True)
    assert isinstance(err, APITimeoutError) and err.kind == "total", err
    assert err.partial is not None and err.partial.request_id and err.partial.usage.total_tokens > 0


class _UncappedAsyncReads(httpx.AsyncHTTPTransport):
    """The async counterpart: only the async client's own deadline around each read can end it."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["timeout"] = {**request.extensions["timeout"], "read": 60.0}
        return await super().handle_async_request(request)


async def test_the_async_total_deadline_ends_a_blocked_read(emu: Emulator) -> None:
    emu.add_fault(Fault.stall(after_events=8, seconds=60))
    async with AsyncCodeInterpreter(
        api_key="sk-test",
        base_url=emu.base_url,
        idle_timeout=60,
        total_timeout=0.5,
        http_client=httpx.AsyncClient(transport=_UncappedAsyncReads()),
    ) as aci:
        with anyio.fail_after(10):
            with pytest.raises(APITimeoutError) as info:
                await aci.run(SEED_QUESTION)
    err = info.value
    assert err.kind == "total", err
    assert err.partial is not None and err.partial.request_id and err.partial.usage.total_tokens > 0


@pytest.mark.parametrize("mode", MODES)
async def test_the_total_timeout_fires_on_a_slow_drip(mode: str, emu: Emulator) -> None:
    err = await timeout_of(mode, emu, Fault.drip(interval=0.02, chunk=16), idle_timeout=5, total_timeout=0.5)
    assert err.kind == "total"


@pytest.mark.parametrize("mode", MODES)
async def test_a_stall_before_the_headers_is_an_idle_timeout_without_partial(mode: str, emu: Emulator) -> None:
    err = await timeout_of(mode, emu, Fault.stall(after_events=None, seconds=60), idle_timeout=0.3)
    assert err.kind == "idle" and err.partial is None


@pytest.mark.parametrize("mode", MODES)
async def test_connection_refused_says_so(mode: str) -> None:
    with Emulator() as emu:
        base = emu.base_url
    with pytest.raises(APIConnectionError, match="refused"):
        await ask_base(mode, base)


async def ask_base(mode: str, base: str) -> Any:
    settings = {"api_key": "sk-test", "base_url": base, "max_retries": 0}
    if mode == "sync":
        with CodeInterpreter(**settings) as ci:
            return ci.run(SEED_QUESTION)
    async with AsyncCodeInterpreter(**settings) as aci:
        return await aci.run(SEED_QUESTION)


def test_leaving_a_sync_stream_early_releases_the_connection(emu: Emulator) -> None:
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        with ci.stream(SEED_QUESTION) as stream:
            next(stream)
            assert emu.active_connections == 1
        assert emu.wait_for_connections(0, timeout=5)


async def test_leaving_an_async_stream_early_releases_the_connection(emu: Emulator) -> None:
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url) as aci:
        async with aci.stream(SEED_QUESTION) as stream:
            await stream.__anext__()
        assert await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 5)


async def test_cancelling_an_async_call_closes_the_upstream_request_promptly() -> None:
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=8, seconds=60))
        async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url) as aci:
            with anyio.move_on_after(0.5) as scope:
                await aci.run(SEED_QUESTION)
            assert scope.cancelled_caught
            assert await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 5)


async def test_many_concurrent_async_calls_share_one_client(emu: Emulator) -> None:
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url) as aci:
        results: list[Any] = []

        async def one() -> None:
            results.append(await aci.run(SEED_QUESTION))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(one)
    assert len(results) == 50 and all(SEED_ANSWER in r.answer for r in results)


async def final_result_after_leaving_early(mode: str, emu: Emulator) -> Any:
    settings: dict[str, Any] = {"api_key": "sk-test", "base_url": emu.base_url}
    if mode == "sync":
        with CodeInterpreter(**settings) as ci:
            with ci.stream(SEED_QUESTION) as stream:
                next(stream)
            return stream.get_final_result()
    async with AsyncCodeInterpreter(**settings) as aci:
        async with aci.stream(SEED_QUESTION) as astream:
            await astream.__anext__()
        return await astream.get_final_result()


@pytest.mark.parametrize("mode", MODES)
async def test_the_final_result_of_a_stream_left_early_is_an_error_that_keeps_what_arrived(
    mode: str, emu: Emulator
) -> None:
    with anyio.fail_after(10), pytest.raises(QwenCIError, match="closed before it completed") as info:
        await final_result_after_leaving_early(mode, emu)
    assert info.value.partial is not None and info.value.partial.status == "incomplete"
    said = str(info.value)  # what to do instead, and what asking again costs
    assert said.startswith("The stream was closed before it completed") and "so it has no final result:" in said
    assert "snapshot() gives what had arrived" in said and "Read the stream to its end" in said
    assert "billed again" in said


@pytest.mark.parametrize("mode", MODES)
async def test_the_final_result_of_a_stream_that_broke_raises_the_same_error_again(mode: str, emu: Emulator) -> None:
    emu.add_fault(Fault.drop(after_events=48))
    settings: dict[str, Any] = {"api_key": "sk-test", "base_url": emu.base_url}
    with anyio.fail_after(10):
        if mode == "sync":
            with CodeInterpreter(**settings) as ci, ci.stream(SEED_QUESTION) as stream:
                with pytest.raises(StreamInterruptedError) as first:
                    for _ in stream:
                        pass
                with pytest.raises(StreamInterruptedError) as again:
                    stream.get_final_result()
        else:
            async with AsyncCodeInterpreter(**settings) as aci, aci.stream(SEED_QUESTION) as astream:
                with pytest.raises(StreamInterruptedError) as first:
                    async for _ in astream:
                        pass
                with pytest.raises(StreamInterruptedError) as again:
                    await astream.get_final_result()
    assert again.value is first.value and again.value.partial is not None


async def _snapshots(mode: str, emu: Emulator) -> tuple[Any, Any, Any]:
    """A snapshot taken at the first event and one taken after the end, and the final result."""
    settings: dict[str, Any] = {"api_key": "sk-test", "base_url": emu.base_url}
    with anyio.fail_after(20):
        if mode == "sync":
            with CodeInterpreter(**settings) as ci, ci.stream(SEED_QUESTION) as stream:
                first = stream.snapshot() if next(stream, None) is not None else None
                result = stream.get_final_result()
                return first, stream.snapshot(), result
        async with AsyncCodeInterpreter(**settings) as aci, aci.stream(SEED_QUESTION) as astream:
            first = astream.snapshot() if await anext(astream, None) is not None else None
            result = await astream.get_final_result()
            return first, astream.snapshot(), result


@pytest.mark.parametrize("mode", MODES)
async def test_a_snapshot_is_incomplete_while_the_stream_runs_and_the_final_result_after_its_end(
    mode: str, emu: Emulator
) -> None:
    first, last, result = await _snapshots(mode, emu)
    assert first is not None and first.status == "incomplete"
    assert last == result and last.status == "completed" and SEED_ANSWER in last.answer
