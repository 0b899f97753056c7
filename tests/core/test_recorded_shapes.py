"""The shapes of the live service that PROTOCOL.md records, rebuilt as files (tests/recorded/,
each named ``*.reconstructed.*`` with its source in SOURCES.md), read through the public API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from qwen_ci_tool import BadRequestError, RateLimitError

from ._mock import Script, run, sse_response

RECORDED = Path(__file__).resolve().parent.parent / "recorded"
MODES = ["sync", "async"]


def test_every_recorded_file_says_it_is_reconstructed_and_names_its_source() -> None:
    sources = (RECORDED / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in RECORDED.iterdir() if p.name != "SOURCES.md")
    assert files
    for name in files:
        assert ".reconstructed." in name, f"{name}: only a live capture may drop 'reconstructed' from its name"
        row = next((line for line in sources.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None and "PROTOCOL.md" in row, f"{name} has no source row in SOURCES.md"


@pytest.mark.parametrize("mode", MODES)
async def test_the_responses_rate_limit_in_a_200_is_a_retryable_rate_limit(mode: str) -> None:
    body = (RECORDED / "responses_rate_limit_200.reconstructed.json").read_bytes()
    reply = httpx.Response(200, headers={"content-type": "application/json", "x-request-id": "rid-200"}, content=body)
    script = Script(reply)
    with pytest.raises(RateLimitError) as caught:
        await run(mode, script, protocol="responses", max_retries=1)
    assert caught.value.retryable and caught.value.request_id == "rid-200" and len(script.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_the_native_error_in_a_200_takes_its_status_from_inside_the_stream(mode: str) -> None:
    frames = (RECORDED / "native_error_in_200.reconstructed.sse").read_bytes()
    script = Script(lambda: sse_response(frames))
    with pytest.raises(BadRequestError) as caught:
        await run(mode, script, max_retries=1)
    err = caught.value
    assert err.status_code == 400 and err.code == "InvalidParameter" and err.request_id == "placeholder-request-id"
    assert len(script.requests) == 1 and err.partial is None
