"""Behaviours of the MCP server's top-level modules that breaks of kinds mutmut does not make left unguarded
(issue 26, helper x-names-srv: audit 9's m09 and the KINDS=names sweep of mcp_server/*.py). Each test fails with
its break."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME

from .test_tool import SEED_QUESTION

pytestmark = pytest.mark.anyio

#: The SDK's logger for tool calls (mcp.server.mcpserver.server), which logs each refused call once.
SDK_LOGGER = "mcp.server.mcpserver.server"


@pytest.mark.parametrize(
    ("tool", "arguments", "fields"),
    [
        (TOOL_NAME, {"question": SEED_QUESTION, "include_reasoning": "maybe"}, ["include_reasoning"]),
        (TOOL_NAME, {"include_reasoning": 3}, ["include_reasoning", "question"]),
        (RESULT_TOOL_NAME, {"run_id": ""}, ["run_id"]),
    ],
    ids=["one-argument", "two-arguments", "result-tool"],
)
async def test_a_call_with_invalid_arguments_is_logged_as_rejected_naming_only_the_arguments(
    make_server: Callable[..., MCPServer],
    caplog: pytest.LogCaptureFixture,
    tool: str,
    arguments: dict[str, Any],
    fields: list[str],
) -> None:
    # The server's own error text stays chained to the SDK's ValidationError: the SDK then logs one short line naming
    # the rejected arguments, not the whole error text the agent gets (a `from None` loses that).
    caplog.set_level(logging.INFO, logger=SDK_LOGGER)
    async with Client(make_server(), raise_exceptions=True) as client:
        with anyio.fail_after(20):
            result = await client.call_tool(tool, arguments)

    assert result.is_error
    lines = [record.getMessage() for record in caplog.records if record.name == SDK_LOGGER]
    assert lines == [f"Tool {tool!r} rejected arguments: {fields!r}"]
