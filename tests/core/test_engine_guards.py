"""What a call decides (qwen_ci_tool._engine), pinned where the mutation sweep of issue 26 found a
one-line break that no test caught: each test here fails when its line breaks (checked with mutmut)."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import APIStatusError, BadRequestError, InternalServerError, ProtocolError, RateLimitError

from ._mock import MODES, Script, run

pytestmark = pytest.mark.usefixtures("no_backoff")


# --- a reply that is not an event stream -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_reply_that_is_not_an_event_stream_names_its_content_type_and_status(mode: str) -> None:
    reply = httpx.Response(200, headers={"content-type": "text/plain"}, content=b"hello from a proxy")
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "text/plain" in info.value.message and "HTTP 200" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_reply_without_a_content_type_says_it_had_none(mode: str) -> None:
    reply = httpx.Response(200, content=b"hello from a proxy")
    assert "content-type" not in reply.headers
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "no content type" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_status_without_a_content_type_and_a_text_body_quotes_the_body(mode: str) -> None:
    reply = httpx.Response(502, content=b"upstream went away")
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "not JSON" in info.value.message and "upstream went away" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_status_with_an_html_content_type_is_reported_as_a_page_from_a_gateway(mode: str) -> None:
    # The body does not look like HTML: only the content type says it is a page.
    reply = httpx.Response(502, headers={"content-type": "text/html"}, content=b"Bad gateway")
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert "HTML page" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_300_reply_is_the_services_status_error_with_that_status(mode: str) -> None:
    reply = httpx.Response(300, json={"code": "Moved", "message": "look elsewhere"})
    with pytest.raises(APIStatusError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert info.value.status_code == 300 and "HTTP 300" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_reply_with_only_a_code_is_the_services_refusal_with_advice_for_the_model(mode: str) -> None:
    reply = httpx.Response(200, json={"code": "InvalidParameter", "message": "the parameter is wrong"})
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(reply), model="qwen3-max-preview", max_retries=0)
    assert "the parameter is wrong" in info.value.message
    assert "qwen3-max-preview" in (info.value.hint or "")


@pytest.mark.parametrize("mode", MODES)
async def test_a_200_json_rate_limit_carries_the_wait_its_headers_ask_for(mode: str) -> None:
    reply = httpx.Response(
        200,
        headers={"retry-after": "7"},
        json={"status": "failed", "error": {"code": "Throttling.RateQuota", "message": "too many requests"}},
    )
    with pytest.raises(RateLimitError) as info:
        await run(mode, Script(reply), protocol="responses", max_retries=0)
    assert info.value.retry_after == 7
