"""MCP server behaviours only a hand-applied break (issue 26, hp-mcp's unrun list) changed. Each test fails with
its break."""

from __future__ import annotations

import pytest

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME

from .test_schema_published import listed_tools

pytestmark = pytest.mark.anyio


async def test_both_tools_publish_an_output_schema_of_type_object_as_mcp_clients_expect() -> None:
    tools = await listed_tools()
    assert tools[TOOL_NAME]["outputSchema"]["type"] == "object"
    assert tools[RESULT_TOOL_NAME]["outputSchema"]["type"] == "object"
