"""Audit 13's misses in the MCP server (issue 26): each test fails with the break its comment names."""

from __future__ import annotations

import anyio
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server

from ..conftest import PLANTED_KEY


async def test_the_tool_descriptions_are_paragraphs_of_one_line_each() -> None:
    # Break a31: a line continuation dropped inside the first sentence ("running real\nPython code").
    server = create_server(api_key=PLANTED_KEY, base_url="http://127.0.0.1:9", max_retries=0)
    async with Client(server) as client:
        with anyio.fail_after(20):
            tools = {tool.name: tool.description or "" for tool in (await client.list_tools()).tools}
    for name in (TOOL_NAME, RESULT_TOOL_NAME):
        paragraphs = tools[name].strip().split("\n\n")
        assert [p for p in paragraphs if "\n" in p or not p.strip()] == [], name
    assert len(tools[TOOL_NAME].split("\n\n")) > 1
