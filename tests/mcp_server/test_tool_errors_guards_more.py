"""Only a call whose ARGUMENTS failed validation is told to fix an argument: a validation error raised
inside the tool (a bug) is reported as the tool's failure (issue 26, KINDS=more)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import TypeAdapter

from mcp_server import TOOL_NAME
from mcp_server._server import _RUNTIMES

pytestmark = pytest.mark.anyio


async def test_a_validation_error_inside_the_tool_is_not_reported_as_the_callers_bad_argument(
    make_server: Callable[..., MCPServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()

    async def broken_call(*_args: Any) -> Any:
        return TypeAdapter(int).validate_python("not a number")  # raises pydantic's ValidationError

    monkeypatch.setattr(_RUNTIMES[server], "call", broken_call)
    async with Client(server) as client:
        with anyio.fail_after(10):
            result = await client.call_tool(TOOL_NAME, {"question": "What is 2 + 2?"})
    text = "\n".join(block.text for block in result.content if block.type == "text")

    assert result.is_error
    assert "corrected" not in text and "Calling again" not in text
    assert TOOL_NAME in text
