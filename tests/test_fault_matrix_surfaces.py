"""The fault matrix through the two agent-facing surfaces: the MCP tool (in-memory MCP client)
and the LangChain tool (invoked with a tool call, as agents do). Every failure is an error the
model can read - never a success - and keeps what arrived."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from integrations.langchain import QwenCodeInterpreterTool
from mcp_server import create_server
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .conftest import PLANTED_KEY
from .fault_matrix import ROWS, Row

# The LangChain tool builds its own client per call; rows that need an injected transport are
# covered by the core and MCP runs.
LANGCHAIN_ROWS = [r for r in ROWS if r.transport_error is None]


pytestmark = pytest.mark.usefixtures("no_backoff")


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
        # An unfinished answer is an error on every face, and its text says it may be cut off.
        assert is_error and "stopped before finishing (finish reason: length)" in text
    else:
        assert is_error and row.error.__name__ in text, text[:300]
        # Whether calling again can help follows the error's .retryable, in the same words.
        assert retry_line(text).startswith(
            "Calling again: may work" if row.retryable else "Calling again: will not help"
        ), text


def retry_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Calling again:"))


async def mcp_call(row: Row, emu: Emulator) -> tuple[str, bool, dict[str, Any] | None]:
    if row.arrange is not None:
        row.arrange(emu)
    settings = _settings(row, emu)
    if row.transport_error is not None:
        error = row.transport_error

        def handler(request: httpx.Request) -> httpx.Response:
            raise error

        settings["http_client"] = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    server = create_server(heartbeat_interval=0.05, **settings)
    with anyio.fail_after(20):
        async with Client(server) as client:
            result = await client.call_tool("qwen_code_interpreter", {"question": SEED_QUESTION})
    text = "\n".join(c.text for c in result.content if c.type == "text")
    return text, result.is_error, result.structured_content


async def langchain_call(row: Row, emu: Emulator) -> tuple[str, bool, dict[str, Any] | None]:
    if row.arrange is not None:
        row.arrange(emu)
    tool = QwenCodeInterpreterTool(**_settings(row, emu))
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"question": SEED_QUESTION}}
    with anyio.fail_after(20):
        message = await tool.ainvoke(call)
    text = message.content if isinstance(message.content, str) else str(message.content)
    return text, message.status == "error", message.artifact


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_each_fault_through_the_mcp_tool_is_an_error_result_that_says_what_happened(row: Row, emu: Emulator) -> None:
    text, is_error, structured = await mcp_call(row, emu)
    _check_text(row, text, is_error)
    if row.partial:
        assert structured is not None and structured["status"] == "incomplete"
    assert len(emu.requests) == row.attempts
    assert emu.wait_for_connections(0, timeout=5)


@pytest.mark.parametrize("row", LANGCHAIN_ROWS, ids=[r.name for r in LANGCHAIN_ROWS])
async def test_each_fault_through_the_langchain_tool_is_an_error_tool_message(row: Row, emu: Emulator) -> None:
    text, is_error, artifact = await langchain_call(row, emu)
    _check_text(row, text, is_error)
    if row.error is None:
        assert artifact is not None and artifact["status"] == row.status and SEED_ANSWER in text
    elif row.partial:
        # Nothing lost: the error ToolMessage carries what arrived, as MCP's structuredContent does.
        assert artifact is not None and artifact["status"] == "incomplete"
    else:
        assert artifact is None
    assert len(emu.requests) == row.attempts
    assert emu.wait_for_connections(0, timeout=5)


FAILING_ROWS = [r for r in LANGCHAIN_ROWS if r.error is not None]


@pytest.mark.parametrize("row", FAILING_ROWS, ids=[r.name for r in FAILING_ROWS])
async def test_the_mcp_tool_and_the_langchain_tool_say_the_same_about_calling_again(row: Row, emu: Emulator) -> None:
    mcp_text, _, _ = await mcp_call(row, emu)
    with Emulator() as other:
        langchain_text, _, _ = await langchain_call(row, other)
    assert retry_line(mcp_text) == retry_line(langchain_text)
