"""The server through the MCP clients agents use today, each over stdio against the emulator:
LangChain's ``langchain.mcp`` adapter inside ``create_agent``, and an OpenAI Agents SDK agent with
its MCP client's default settings (only the text content reaches the model, so the text must carry
the answer, the code and, on failure, what arrived)."""

from __future__ import annotations

import sys
import warnings

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

# The Agents SDK (_agents_sdk) and langchain.mcp are imported by the tests that use them, not at collection:
# every xdist worker collects every file, and these two take about a second of each worker's CPU.


def _command(emu: Emulator) -> list[str]:
    return [sys.executable, "-m", "mcp_server", "--base-url", emu.base_url]


async def test_langchain_mcp_tools_work_inside_create_agent(emu: Emulator) -> None:
    from fastmcp.client.transports import StdioTransport

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangChainBetaWarning)  # the namespace is beta; it says so once
        from langchain.mcp import MCPAdapter

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


async def test_an_openai_agents_sdk_agent_gets_the_answer_and_the_code_in_the_text(emu: Emulator) -> None:
    from ._agents_sdk import agents_call

    text, final = await agents_call(_command(emu))
    assert SEED_ANSWER in text and "123**21" in text and not text.lstrip().startswith("{")
    assert SEED_ANSWER in final
    assert PLANTED_KEY not in text


async def test_openai_agents_sdk_gets_what_arrived_before_a_failure_in_the_text(emu: Emulator) -> None:
    emu.add_fault(Fault.drop(after_events=45))  # the code ran and the answer had begun
    from ._agents_sdk import agents_call

    text, _ = await agents_call(_command(emu))
    assert "StreamInterruptedError" in text or "interrupted" in text.lower()
    assert "123**21" in text and "123 to the power of" in text
    assert PLANTED_KEY not in text
