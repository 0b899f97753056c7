"""What PROTOCOL.md's "More from public captures" shows, through the public API against the
emulator (and verbatim captured bodies through a mock transport): a model the account may not use,
a token plan's exhausted quota, a transient ResourceExhausted, the multimodal stop frame that
still carries answer text, the US root, and error bodies that echo the key."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import anyio
import httpx
import pytest

from qwen_ci_tool import APITimeoutError, AuthenticationError, CodeInterpreter, RateLimitError
from qwen_ci_tool._knobs import PYTHON
from qwen_ci_tool.cli.flags import CLI
from qwen_ci_tool.testing import SEED_ANSWER, TWO_RUN_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from ._frames import native_frame
from ._mock import Script, run, sse_response
from .test_client_emulator import MODES, PROTOCOLS, ask

pytestmark = pytest.mark.usefixtures("no_backoff")

#: Each client (sync, async) over each protocol.
EVERY_CLIENT = list(itertools.product(MODES, PROTOCOLS))
RESET = "The quota will reset at 08-12 14:52:00 UTC"


@pytest.mark.parametrize(("mode", "protocol"), EVERY_CLIENT)
async def test_model_access_denied_names_the_model_and_the_console_not_the_key(
    mode: str, protocol: str, emu: Emulator
) -> None:
    emu.add_fault(Fault.named("model_access_denied"), times=5)
    with pytest.raises(AuthenticationError) as info:
        await ask(mode, emu, protocol=protocol, model="qwen3.8-max")
    err = info.value
    assert err.code == "Model.AccessDenied" and err.status_code == 403 and not err.retryable
    assert len(emu.requests) == 1, "a model the account may not use is not asked again"
    for knobs, setting in ((PYTHON, "model"), (CLI, "--model")):
        text = err.describe(knobs)
        assert (
            "'qwen3.8-max'" in text and "Model Studio console" in text and f"choose another model ({setting})" in text
        )
        assert "Check the API key" not in text and "Keys are per region" not in text, text


# The captured bodies, verbatim but for the ids (PROTOCOL.md, "More from public captures").
CHAT_ACCESS_DENIED = (
    b'{"error":{"message":"Model access denied.","type":"Model.AccessDenied","param":null,'
    b'"code":"Model.AccessDenied"},"id":"chatcmpl-ad1","request_id":"rid-ad1"}'
)
NATIVE_ACCESS_DENIED = b'{"code":"Model.AccessDenied","message":"Model access denied.","request_id":"rid-ad2"}'


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("protocol", "body"), [("openai", CHAT_ACCESS_DENIED), ("dashscope", NATIVE_ACCESS_DENIED)])
async def test_the_captured_access_denied_bodies_read_as_a_refused_model(mode: str, protocol: str, body: bytes) -> None:
    script = Script(httpx.Response(403, headers={"content-type": "application/json"}, content=body))
    with pytest.raises(AuthenticationError) as info:
        await run(mode, script, protocol=protocol, model="qwen3.6-plus")
    err = info.value
    assert err.code == "Model.AccessDenied" and err.request_id in ("rid-ad1", "rid-ad2")
    assert "'qwen3.6-plus'" in str(err) and "enable the model" in str(err) and "API key" not in str(err)
    assert len(script.requests) == 1


@pytest.mark.parametrize(("mode", "protocol"), EVERY_CLIENT)
@pytest.mark.parametrize("name", ["token_plan_quota", "token_plan_quota_reset"])
async def test_an_exhausted_token_plan_is_not_retried_and_keeps_its_reset_time(
    mode: str, protocol: str, name: str, emu: Emulator
) -> None:
    emu.add_fault(Fault.named(name), times=5)
    with pytest.raises(RateLimitError) as info:
        await ask(mode, emu, protocol=protocol, max_retries=2)
    err = info.value
    assert err.code == "Throttling.AllocationQuota" and err.retryable is False
    assert len(emu.requests) == 1, "a used-up quota is not asked again in seconds"
    assert "token-plan" in err.message and "will not help" in str(err)
    if name.endswith("reset"):
        assert RESET in err.message and RESET in str(err)


@pytest.mark.parametrize("mode", MODES)
async def test_an_exhausted_token_plan_inside_a_200_stream_is_not_retried(mode: str, emu: Emulator) -> None:
    emu.add_fault(Fault.named("token_plan_quota_stream"), times=5)
    with pytest.raises(RateLimitError) as info:
        await ask(mode, emu, max_retries=2)
    assert info.value.code == "Throttling.AllocationQuota" and not info.value.retryable
    assert RESET in info.value.message and len(emu.requests) == 1


def test_a_batch_does_not_requeue_an_exhausted_token_plan(emu: Emulator) -> None:
    emu.add_fault(Fault.named("token_plan_quota_reset"), times=10)
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=2) as ci:
        outcomes = list(ci.run_many(["a", "b"], concurrency=1))
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all(not o.retryable and RESET in str(o.error) for o in outcomes)
    assert len(emu.requests) == 2, "one request per task: neither retried nor re-queued"


@pytest.mark.parametrize(("mode", "protocol"), EVERY_CLIENT)
async def test_resource_exhausted_is_a_passing_rate_limit_and_is_retried(
    mode: str, protocol: str, emu: Emulator
) -> None:
    emu.add_fault(Fault.named("resource_exhausted"), times=1)
    result = await ask(mode, emu, protocol=protocol)
    assert result.status == "completed" and SEED_ANSWER in result.answer and len(emu.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_the_multimodal_stop_frame_s_answer_text_is_part_of_the_answer(mode: str, emu: Emulator) -> None:
    result = await ask(mode, emu, model="qwen3.6-plus")
    assert emu.requests[0].path.endswith("/multimodal-generation/generation")
    assert result.answer.endswith(SEED_ANSWER) and result.status == "completed"  # "...23" rides on the stop frame
    assert result.usage.reasoning_tokens == 171 and result.usage.total_tokens == 997


@pytest.mark.parametrize("mode", MODES)
async def test_answer_text_on_a_stop_frame_is_kept(mode: str) -> None:
    frames = (
        native_frame(1, content=[], reasoning="Think.")
        + native_frame(2, content=[{"text": "Forty"}])
        + native_frame(3, content=[{"text": "-two."}], finish="stop")
    )
    result = await run(mode, lambda r: sse_response(frames), model="qwen3.6-plus")
    assert result.answer == "Forty-two." and result.status == "completed"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", ["dashscope", "responses"])  # Chat Completions never says where code ran
async def test_reasoning_around_code_runs_keeps_its_segments_apart(mode: str, protocol: str, emu: Emulator) -> None:
    result = await ask(mode, emu, TWO_RUN_QUESTION, protocol=protocol)
    segments = [s.text for s in result.steps if s.kind == "reasoning"]
    assert len(segments) >= 2, "the two-run conversation thinks before and between its runs"
    for before, after in itertools.pairwise(segments):  # a blank line between, however the first ended
        assert before.rstrip("\n") + "\n\n" + after in result.reasoning
    assert len(result.reasoning) <= sum(map(len, segments)) + 2 * (len(segments) - 1)


@pytest.mark.parametrize("region", ["virginia", "us"])
def test_the_us_root_is_reached_by_its_region_name(region: str) -> None:
    with CodeInterpreter(api_key="sk-test", region=region) as ci:
        assert ci.base_url == "https://dashscope-us.aliyuncs.com" and ci.settings.region == "virginia"


# --- error bodies that echo the key ------------------------------------------------------------


def _leak_free(err: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(err), repr(err), getattr(err, "message", ""), getattr(err, "service_message", "") or ""]
    texts += [err.describe(k) for k in (PYTHON, CLI)]  # type: ignore[attr-defined]
    texts += [r.getMessage() for r in caplog.records]
    assert all(PLANTED_KEY not in t for t in texts), [t for t in texts if PLANTED_KEY in t]
    assert "**********" in str(err), "the echoed key is masked, not dropped with the rest of the message"


@pytest.mark.parametrize(("mode", "protocol"), EVERY_CLIENT)
async def test_an_error_body_that_echoes_the_key_never_shows_it(
    mode: str, protocol: str, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qwen_ci_tool")
    emu.add_fault(Fault.status(401, message=f"Invalid API-key provided: {PLANTED_KEY}."), times=5)
    with pytest.raises(AuthenticationError) as info:
        await ask(mode, emu, protocol=protocol, api_key=PLANTED_KEY)
    _leak_free(info.value, caplog)


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_event_that_echoes_the_key_never_shows_it(
    mode: str, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qwen_ci_tool")
    emu.add_fault(Fault.error_event(after_events=3, code="InvalidApiKey", message=f"bad key {PLANTED_KEY}", status=401))
    with pytest.raises(AuthenticationError) as info:
        await ask(mode, emu, api_key=PLANTED_KEY)
    _leak_free(info.value, caplog)


async def _total_timeout_of(mode: str, emu: Emulator, **settings: Any) -> str:
    emu.add_fault(Fault.stall(after_events=8, seconds=60))
    with anyio.fail_after(10), pytest.raises(APITimeoutError) as info:
        await ask(mode, emu, **settings)
    assert info.value.kind == "total"
    return str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_the_total_timeout_message_names_the_total_timeout_s_seconds(mode: str, emu: Emulator) -> None:
    text = await _total_timeout_of(mode, emu, idle_timeout=30, total_timeout=0.5, connect_timeout=7)
    assert "0.5 s (the total timeout)" in text
    assert "30 s" not in text and "7 s" not in text, text
