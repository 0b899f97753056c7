"""The clients as a user meets them: their repr (never the key), a batch task given as messages, and
the batch limiter told when the service began answering: found by the mutation sweep (issue 26) as
lines no test read."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from qwen_ci_tool import (
    AdaptiveLimiter,
    APIConnectionError,
    AsyncCodeInterpreter,
    AuthenticationError,
    CodeInterpreter,
    __version__,
)
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from ._frames import native_frame
from ._mock import MODES, Script, clients, run, sse_response


@pytest.mark.parametrize("cls", [CodeInterpreter, AsyncCodeInterpreter])
def test_a_clients_repr_names_its_class_endpoint_protocol_and_model_and_masks_the_key(cls: Any) -> None:
    keyed = cls(api_key=PLANTED_KEY, region="singapore", protocol="responses", model="qwen3.5-plus")
    assert repr(keyed) == (
        f"{cls.__name__}(base_url='https://dashscope-intl.aliyuncs.com', protocol='responses', "
        "model='qwen3.5-plus', api_key=Secret('**********'))"
    )
    assert repr(cls()).endswith("model='qwen3-max', api_key=None)")


def test_the_settings_repr_says_whether_a_key_is_set_without_showing_it() -> None:
    keyed = repr(resolve_settings(env={}, api_key=PLANTED_KEY))
    assert keyed == (
        "Settings(base_url='https://dashscope.aliyuncs.com', protocol='dashscope', model='qwen3-max', api_key=set)"
    )
    assert repr(resolve_settings(env={})).endswith("api_key=missing)")


async def _batch(mode: str, script: Script, tasks: list[Any], limiter: AdaptiveLimiter) -> list[Any]:
    sync, asyn = clients(script, max_retries=0)
    if mode == "sync":
        with sync:
            return list(sync.run_many(tasks, limiter=limiter))
    async with asyn:
        return [outcome async for outcome in asyn.run_many(tasks, limiter=limiter)]


@pytest.mark.parametrize("mode", MODES)
async def test_a_batch_task_given_as_messages_sends_those_messages(mode: str) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 6*7?"}]
    script = Script(lambda: sse_response(native_frame(1, content="42", finish="stop")))
    outcomes = await _batch(mode, script, [{"id": "m", "messages": messages}], AdaptiveLimiter(1))
    assert [(o.id, o.status, o.result.answer) for o in outcomes] == [("m", "completed", "42")]
    assert json.loads(script.requests[0].content)["input"]["messages"] == messages


@pytest.mark.parametrize("mode", MODES)
async def test_a_batch_call_whose_stream_began_then_broke_counts_as_admitted_by_the_service(mode: str) -> None:
    def broken() -> httpx.Response:
        return sse_response(native_frame(1, reasoning="thinking"), error=httpx.ReadError("reset"))

    limiter = AdaptiveLimiter(1)
    outcomes = await _batch(mode, Script(broken), ["q"], limiter)
    assert [o.status for o in outcomes] == ["failed"]
    assert limiter.admitted_rate(time.monotonic()) > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("chosen", "advice"),
    [
        ({}, "a key from the Singapore region needs region='singapore'."),
        (
            {"base_url": "https://dashscope.aliyuncs.com"},
            "(base_url); a key from the Singapore region needs base_url='https://dashscope-intl.aliyuncs.com'.",
        ),
        ({"base_url": "https://gateway.example.com"}, "use a key that https://gateway.example.com (base_url) accepts."),
    ],
    ids=["region", "base_url of a region", "base_url of a gateway"],
)
async def test_a_refused_key_is_told_to_change_the_setting_that_chose_where_the_call_went(
    mode: str, chosen: dict[str, str], advice: str
) -> None:
    refused = httpx.Response(401, json={"code": "InvalidApiKey", "message": "Invalid API-key provided."})
    with pytest.raises(AuthenticationError) as caught:
        await run(mode, Script(refused), max_retries=0, **chosen)
    assert str(caught.value).endswith(advice)


async def test_both_clients_say_who_they_are_in_the_user_agent_with_their_own_http_client_or_one_given(
    emu: Emulator,
) -> None:
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        ci.run(SEED_QUESTION)
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url) as aci:
        await aci.run(SEED_QUESTION)
    assert [r.headers["user-agent"] for r in emu.requests] == [f"qwen-ci-tool/{__version__}"] * 2
    script = Script(lambda: sse_response(native_frame(1, content="42", finish="stop")))
    sync, _ = clients(script)  # a client given its own httpx client
    with sync:
        sync.run("q")
    assert script.requests[0].headers["user-agent"] == f"qwen-ci-tool/{__version__}"


@pytest.mark.parametrize("mode", MODES)
async def test_a_failure_before_any_answer_has_no_request_id(mode: str) -> None:
    with pytest.raises(APIConnectionError) as caught:
        await run(mode, Script(httpx.ConnectError("refused")), max_retries=0)
    assert caught.value.request_id is None


async def test_a_streams_snapshot_before_anything_arrived_is_an_empty_incomplete_result() -> None:
    sync, asyn = clients(
        Script(lambda: sse_response(native_frame(1, content="42", finish="stop"))), model="qwen3.5-plus"
    )
    with sync, sync.stream("q") as stream:
        before = stream.snapshot()
    async with asyn, asyn.stream("q") as astream:
        assert astream.snapshot().to_dict() | {"timings": None} == before.to_dict() | {"timings": None}
    assert (before.answer, before.status, before.finish_reason, before.request_id) == ("", "incomplete", None, None)
    assert (before.model, before.protocol, before.code_runs) == ("qwen3.5-plus", "dashscope", ())
