"""The server through the MCP clients agents use today, against the emulator: LangChain's
``langchain.mcp`` adapter inside ``create_agent`` and the OpenAI Agents SDK, both over stdio, and the OpenAI Agents SDK's stdio client with
its default settings (only the text content reaches the model, so the text must carry the answer,
the code and, on failure, what arrived)."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import anyio
import pytest
from langchain.agents import create_agent
from langchain_core._api import LangChainBetaWarning
from langchain_core.messages import AIMessage, ToolMessage

from mcp_server import TOOL_NAME
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from ..integrations._helpers import agent_input, scripted_model
from .processes import server_env

pytestmark = pytest.mark.anyio

with warnings.catch_warnings():
    warnings.simplefilter("ignore", LangChainBetaWarning)  # the namespace is beta; it says so once
    from langchain.mcp import MCPAdapter


def _command(emu: Emulator) -> list[str]:
    return [sys.executable, "-m", "mcp_server", "--base-url", emu.base_url]


async def test_langchain_mcp_tools_work_inside_create_agent(emu: Emulator) -> None:
    from fastmcp.client.transports import StdioTransport

    command, *args = _command(emu)
    transport = StdioTransport(command, args, env=server_env(DASHSCOPE_API_KEY=PLANTED_KEY))
    with anyio.fail_after(60):
        async with MCPAdapter(transport) as adapter:
            tools = await adapter.list_tools()
            assert [t.name for t in tools if t.name == TOOL_NAME] == [TOOL_NAME]
            agent = create_agent(scripted_model(SEED_QUESTION), tools=tools)
            messages = (await agent.ainvoke(agent_input()))["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.status == "success"
    text = "".join(b["text"] for b in tool_message.content if b["type"] == "text")  # type: ignore[index,union-attr]
    assert SEED_ANSWER in text and "123**21" in text
    assert tool_message.artifact["structured_content"]["status"] == "completed"
    assert isinstance(messages[-1], AIMessage) and SEED_ANSWER in str(messages[-1].content)


def _agents_server(emu: Emulator) -> Any:
    from agents.mcp import MCPServerStdio

    command, *args = _command(emu)
    params = {"command": command, "args": args, "env": server_env(DASHSCOPE_API_KEY=PLANTED_KEY)}
    # Defaults but the read timeout: a loaded test machine may take longer than 5 s to start Python.
    return MCPServerStdio(params, client_session_timeout_seconds=30)


async def _agents_call(emu: Emulator) -> tuple[bool, str]:
    """Call the tool the way the OpenAI Agents SDK does for a model; returns (structured used, text)."""
    from agents import RunContextWrapper
    from agents.mcp import MCPUtil

    with anyio.fail_after(60):
        async with _agents_server(emu) as server:
            assert server.use_structured_content is False  # the SDK's default
            (tool,) = [t for t in await server.list_tools() if t.name == TOOL_NAME]
            output = await MCPUtil.invoke_mcp_tool(
                server, tool, RunContextWrapper(context=None), json.dumps({"question": SEED_QUESTION})
            )
    items = output if isinstance(output, list) else [output]
    text = "".join(item["text"] for item in items if isinstance(item, dict) and item.get("type") == "text")
    return isinstance(output, str), text


async def test_openai_agents_sdk_default_settings_get_the_answer_and_the_code_in_the_text(emu: Emulator) -> None:
    structured, text = await _agents_call(emu)
    assert not structured
    assert SEED_ANSWER in text and "123**21" in text
    assert PLANTED_KEY not in text


async def test_openai_agents_sdk_gets_what_arrived_before_a_failure_in_the_text(emu: Emulator) -> None:
    emu.add_fault(Fault.drop(after_events=45))  # the code ran and the answer had begun
    _, text = await _agents_call(emu)
    assert "StreamInterruptedError" in text or "interrupted" in text.lower()
    assert "123**21" in text and "123 to the power of" in text
    assert PLANTED_KEY not in text
