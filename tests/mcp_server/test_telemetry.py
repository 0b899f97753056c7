"""Served over MCP, a call's span is a child of the MCP SDK's own ``tools/call`` span."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from opentelemetry.trace import SpanKind, StatusCode

from mcp_server import TOOL_NAME
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..otel import Otel, assert_no_key

pytestmark = pytest.mark.anyio


async def call(server: MCPServer) -> bool:
    async with Client(server, raise_exceptions=True) as client:
        with anyio.fail_after(20):
            result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
    return bool(result.is_error)


def tools_call_span(otel: Otel) -> object:
    (span,) = [s for s in otel.finished(f"tools/call {TOOL_NAME}") if s.kind is SpanKind.SERVER]
    return span


async def test_the_call_span_is_a_child_of_the_sdks_tools_call_span(
    make_server: Callable[..., MCPServer], otel: Otel
) -> None:
    assert not await call(make_server())
    server_span = tools_call_span(otel)
    ours = otel.call_span()
    assert ours.parent is not None and ours.parent.span_id == server_span.context.span_id  # type: ignore[attr-defined]
    assert ours.attributes is not None and ours.attributes["gen_ai.usage.output_tokens"] > 0
    assert ours.attributes["gen_ai.response.id"]
    assert_no_key(otel.finished())


async def test_a_failed_call_marks_both_spans(make_server: Callable[..., MCPServer], emu: Emulator, otel: Otel) -> None:
    emu.add_fault(Fault.status(401, "InvalidApiKey", "Invalid API-key provided."))
    assert await call(make_server())
    ours = otel.call_span()
    assert ours.attributes is not None and ours.attributes["error.type"] == "AuthenticationError"
    assert ours.status.status_code is StatusCode.ERROR
    server_span = tools_call_span(otel)
    assert server_span.attributes["error.type"] == "tool_error"  # type: ignore[attr-defined]
    assert_no_key(otel.finished())
