"""The fault matrix through the two agent-facing surfaces: the MCP tool (in-memory MCP client)
and the LangChain tool (invoked with a tool call, as agents do). Every row runs on both. Every
failure is an error the model can read - never a success - that names the request id the service
sent; the MCP error result also carries the partial record (usage and request id included)."""

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


def _check_text(row: Row, text: str, is_error: bool) -> None:
    assert PLANTED_KEY not in text
    if row.error is None and row.status == "completed":
        assert not is_error and SEED_ANSWER in text
    elif row.error is None:
        assert is_error and "finish reason" in text
    else:
        assert is_error and row.error.__name__ in text, text[:300]
        assert bool(REQUEST_ID.search(text)) == row.request_id, text[:600]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_each_fault_through_the_mcp_tool_is_an_error_result_that_says_what_happened(
    row: Row, emu: Emulator, fake_clock: FakeClock
) -> None:
    if row.arrange is not None:
        row.arrange(emu)
    settings = _settings(row, emu)
    calls: list[httpx.Request] = []
    if row.transport_error is not None:
        settings["http_client"] = httpx.AsyncClient(transport=httpx.MockTransport(failing_handler(row, calls)))
    server = create_server(heartbeat_interval=0.05, **settings)
    with anyio.fail_after(20):
        async with Client(server) as client:
            result = await client.call_tool("qwen_code_interpreter", {"question": SEED_QUESTION})
    text = "\n".join(c.text for c in result.content if c.type == "text")
    _check_text(row, text, result.is_error)
    if row.partial:
        partial = result.structured_content
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
    if row.arrange is not None:
        row.arrange(emu)
    calls: list[httpx.Request] = []
    if row.transport_error is not None:
        # The tool builds its own client per call (no http_client setting): the failing
        # transport goes into the options every client of the core is built with.
        options = _client._http_options
        transport = httpx.MockTransport(failing_handler(row, calls))
        monkeypatch.setattr(_client, "_http_options", lambda: {**options(), "transport": transport})
    tool = QwenCodeInterpreterTool(**_settings(row, emu))
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"question": SEED_QUESTION}}
    with anyio.fail_after(20):
        message = await tool.ainvoke(call)
    text = message.content if isinstance(message.content, str) else str(message.content)
    is_error = message.status == "error"
    if row.error is None:
        # An incomplete result is still a result here; its content says so.
        assert not is_error and message.artifact["status"] == row.status
        assert SEED_ANSWER in text
        assert ("Incomplete result" in text) == (row.status == "incomplete")
    else:
        _check_text(row, text, is_error)
    check_requests(row, emu, calls)
    check_waits(row, fake_clock.sleeps)
    assert emu.wait_for_connections(0, timeout=5)
