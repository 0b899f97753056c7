"""The fault matrix through the two agent-facing surfaces: the MCP tool (in-memory MCP client)
and the LangChain tool (invoked with a tool call, as agents do). Every row runs on both. Every
failure is an error the model can read - never a success - that names the request id the service
sent, says whether calling again can help (in the same words on both) and keeps what arrived: the
MCP error result in its structured content, the LangChain error ToolMessage in its artifact."""

from __future__ import annotations

import re
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from integrations.langchain import QwenCodeInterpreterTool
from mcp_server import create_server
from qwen_ci_tool import _client
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .conftest import PLANTED_KEY, FakeClock
from .fault_matrix import ROWS, Row, check_requests, check_waits, failing_handler

REQUEST_ID = re.compile(r"\(request id: [\w.-]+\)")


def _settings(row: Row, emu: Emulator) -> dict[str, Any]:
    settings: dict[str, Any] = {"api_key": PLANTED_KEY, "max_retries": 1, "base_url": emu.base_url, **row.settings}
    if row.base_url is not None:
        settings["base_url"] = row.base_url(emu)
    return settings


def retry_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Calling again:"))


def _check_text(row: Row, text: str, is_error: bool) -> None:
    assert PLANTED_KEY not in text
    if row.error is None and row.status == "completed":
        assert not is_error and SEED_ANSWER in text
    elif row.error is None:
        # An unfinished answer is an error on every face, and its text says it may be cut off.
        assert is_error and "stopped before finishing (finish reason: length)" in text
    else:
        assert is_error and row.error.__name__ in text, text[:300]
        assert bool(REQUEST_ID.search(text)) == row.request_id, text[:600]
        # Whether calling again can help follows the error's .retryable: a permanent failure never
        # invites a retry, a transient one says to wait and retry.
        assert retry_line(text).startswith(
            "Calling again: may work" if row.retryable else "Calling again: will not help"
        ), text


async def mcp_call(row: Row, emu: Emulator, calls: list[httpx.Request]) -> tuple[str, bool, dict[str, Any] | None]:
    if row.arrange is not None:
        row.arrange(emu)
    settings = _settings(row, emu)
    if row.transport_error is not None:
        settings["http_client"] = httpx.AsyncClient(transport=httpx.MockTransport(failing_handler(row, calls)))
    server = create_server(heartbeat_interval=0.05, **settings)
    with anyio.fail_after(20):
        async with Client(server) as client:
            result = await client.call_tool("qwen_code_interpreter", {"question": SEED_QUESTION})
    text = "\n".join(c.text for c in result.content if c.type == "text")
    return text, result.is_error, result.structured_content


async def langchain_call(
    row: Row, emu: Emulator, calls: list[httpx.Request], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, bool, dict[str, Any] | None]:
    if row.arrange is not None:
        row.arrange(emu)
    if row.transport_error is not None:
        # The tool builds its own client per call (no http_client setting): the failing
        # transport goes into the options every client of the core is built with.
        options = _client._http_options
        transport = httpx.MockTransport(failing_handler(row, calls))
        monkeypatch.setattr(_client, "_http_options", lambda: {**options(), "transport": transport})
    tool = QwenCodeInterpreterTool(**_settings(row, emu))
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"question": SEED_QUESTION}}
    with anyio.fail_after(20):
        try:
            message = await tool.ainvoke(call)
        finally:
            await tool.aclose()  # the connection the tool keeps for its next call
    text = message.content if isinstance(message.content, str) else str(message.content)
    return text, message.status == "error", message.artifact


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_each_fault_through_the_mcp_tool_is_an_error_result_that_says_what_happened(
    row: Row, emu: Emulator, fake_clock: FakeClock
) -> None:
    calls: list[httpx.Request] = []
    text, is_error, partial = await mcp_call(row, emu, calls)
    _check_text(row, text, is_error)
    if row.partial:
        assert partial is not None and partial["status"] == "incomplete"
        assert partial["request_id"] and partial["request_id"] in text
        if row.settings.get("protocol", "dashscope") == "dashscope":  # the others send usage only at the end
            assert partial["usage"]["total_tokens"] > 0
    check_requests(row, emu, calls)
    check_waits(row, fake_clock.sleeps)
    assert emu.wait_for_connections(0, timeout=5)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_each_fault_through_the_langchain_tool_is_an_error_tool_message(
    row: Row, emu: Emulator, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[httpx.Request] = []
    text, is_error, artifact = await langchain_call(row, emu, calls, monkeypatch)
    _check_text(row, text, is_error)
    if row.error is None:
        assert artifact is not None and artifact["status"] == row.status and SEED_ANSWER in text
    elif row.partial:
        # Nothing lost: the error ToolMessage carries what arrived, as MCP's structuredContent does.
        assert artifact is not None and artifact["status"] == "incomplete"
        assert artifact["request_id"] and artifact["request_id"] in text
    else:
        assert artifact is None
    check_requests(row, emu, calls)
    check_waits(row, fake_clock.sleeps)
    assert emu.wait_for_connections(0, timeout=5)


FAILING_ROWS = [r for r in ROWS if r.error is not None]


@pytest.mark.parametrize("row", FAILING_ROWS, ids=[r.name for r in FAILING_ROWS])
async def test_the_mcp_tool_and_the_langchain_tool_say_the_same_about_calling_again(
    row: Row, emu: Emulator, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mcp_text, _, _ = await mcp_call(row, emu, [])
    with Emulator() as other:
        langchain_text, _, _ = await langchain_call(row, other, [], monkeypatch)
    # The same words; a wait the service gave as a date is a little shorter by the second call.
    assert re.sub(r"\d+", "N", retry_line(mcp_text)) == re.sub(r"\d+", "N", retry_line(langchain_text))
