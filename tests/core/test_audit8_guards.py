"""Behaviours audit 8 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import json

import httpx
import pytest

from qwen_ci_tool import RateLimitError, __version__

from ._frames import chat_chunk, chat_stream, native_frame, native_stream
from ._mock import MODES, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("header", "said"), [("0.5", "0.5 s"), ("2", "2 s"), ("120", "120 s")])
async def test_a_rate_limit_says_the_wait_the_service_asked_for_as_it_asked(mode: str, header: str, said: str) -> None:
    refused = httpx.Response(
        429,
        headers={"Retry-After": header},
        json={"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded."},
    )
    with pytest.raises(RateLimitError) as info:
        await run(mode, Script(refused), max_retries=0)
    assert f" The service asked to wait {said}." in info.value.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("protocol", "stream"), [("dashscope", native_stream), ("openai", chat_stream)])
async def test_the_question_is_sent_as_json_that_says_its_charset(mode: str, protocol: str, stream: object) -> None:
    script = Script(lambda: sse_response(stream()))  # type: ignore[operator]
    await run(mode, script, question="Wie viel ist 6 × 7? 六乘七", protocol=protocol)
    request = script.requests[0]
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert "六乘七" in json.dumps(json.loads(request.content), ensure_ascii=False)


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_chunk_whose_delta_is_null_is_skipped_and_the_answer_is_whole(mode: str) -> None:
    frames = chat_stream()
    body = json.loads(chat_chunk({}).removeprefix("data: ").strip())
    body["choices"][0]["delta"] = None
    null_delta = "data: " + json.dumps(body) + "\n\n"
    clean = await run(mode, Script(lambda: sse_response(frames)), protocol="openai")
    with_null = await run(mode, Script(lambda: sse_response(null_delta + frames)), protocol="openai")
    assert with_null.status == "completed" and with_null.answer == clean.answer


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("protocol", "stream"), [("dashscope", native_stream), ("openai", chat_stream)])
async def test_each_request_names_this_library_and_its_version_as_the_user_agent(
    mode: str, protocol: str, stream: object
) -> None:
    script = Script(lambda: sse_response(stream()))  # type: ignore[operator]
    await run(mode, script, protocol=protocol)
    assert script.requests[0].headers["user-agent"] == f"qwen-ci-tool/{__version__}"


@pytest.mark.parametrize("mode", MODES)
async def test_an_answer_in_several_text_parts_is_their_text_joined_as_sent(mode: str) -> None:
    parts = [{"text": "4"}, {"image": "ignored.png"}, {"text": "2"}]
    frames = native_frame(1, content=parts, finish="stop")
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert result.answer == "42"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tokens", [-5, 2.5, "7", True], ids=["negative", "float", "text", "bool"])
async def test_a_token_count_that_is_not_a_count_is_read_as_zero(mode: str, tokens: object) -> None:
    usage = {"input_tokens": tokens, "output_tokens": 3, "total_tokens": 13}
    frames = native_frame(1, content="42", finish="stop", usage=usage)
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert (result.usage.input_tokens, result.usage.output_tokens) == (0, 3)


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_request_id_in_the_stream_gives_way_to_the_headers(mode: str) -> None:
    frames = native_frame(1, content="42", finish="stop", request_id="")
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert result.request_id == "hdr-rid"
