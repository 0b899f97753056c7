"""MCP server behaviours only a hand-applied break (issue 26, hp-mcp's unrun list) changed. Each test fails with
its break."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server

from ..conftest import PLANTED_KEY
from .test_schema_published import listed_tools

pytestmark = pytest.mark.anyio


async def test_both_tools_publish_an_output_schema_of_type_object_as_mcp_clients_expect() -> None:
    tools = await listed_tools()
    assert tools[TOOL_NAME]["outputSchema"]["type"] == "object"
    assert tools[RESULT_TOOL_NAME]["outputSchema"]["type"] == "object"


async def test_a_server_holding_calls_to_the_end_publishes_no_result_tool() -> None:
    async with Client(create_server(api_key=PLANTED_KEY, max_wait=0)) as client:  # README: --max-wait 0, no handles
        with anyio.fail_after(10):
            tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == [TOOL_NAME]


@pytest.mark.parametrize("spec", ["Memory", " memory "], ids=["capitalised", "padded"])
def test_the_memory_run_store_is_named_in_any_case_and_with_spaces(spec: str) -> None:
    create_server(api_key=PLANTED_KEY, run_store=spec)  # the default store: no "Unknown run store" refusal
