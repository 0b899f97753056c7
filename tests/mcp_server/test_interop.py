"""The server through the MCP clients agents use today, each over stdio against the emulator:
LangChain's ``langchain.mcp`` adapter inside ``create_agent``, and an OpenAI Agents SDK agent with
its MCP client's default settings (only the text content reaches the model, so the text must carry
the answer, the code and, on failure, what arrived)."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import anyio
import pytest
from agents import Agent, ModelResponse, RunConfig, Runner, Usage
from agents.mcp import MCPServerStdio
from agents.models.interface import Model
from langchain.agents import create_agent
from langchain_core._api import LangChainBetaWarning
from langchain_core.messages import AIMessage, ToolMessage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

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


def _agents_server(emu: Emulator) -> MCPServerStdio:
    command, *args = _command(emu)
    params = {"command": command, "args": args, "env": server_env(DASHSCOPE_API_KEY=PLANTED_KEY)}
    # Defaults but the read timeout: a loaded test machine may take longer than 5 s to start Python.
    return MCPServerStdio(params, client_session_timeout_seconds=30)


class _ScriptedModel(Model):
    """An Agents SDK model that calls the tool once, then answers with the text the tool returned
    (what the SDK passed on to the model)."""

    def __init__(self) -> None:
        self.tool_text: str | None = None

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
        outputs = [i for i in input if isinstance(i, dict) and i.get("type") == "function_call_output"]
        if not outputs:
            call = ResponseFunctionToolCall(
                type="function_call",
                id="fc_1",
                call_id="call_1",
                name=TOOL_NAME,
                arguments=json.dumps({"question": SEED_QUESTION}),
                status="completed",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        output = outputs[0]["output"]
        self.tool_text = output if isinstance(output, str) else "".join(p.get("text", "") for p in output)
        text = ResponseOutputText(type="output_text", text=f"The tool says: {self.tool_text}", annotations=[])
        reply = ResponseOutputMessage(type="message", id="msg_1", role="assistant", status="completed", content=[text])
        return ModelResponse(output=[reply], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the test runs the agent without streaming")


async def _agents_call(emu: Emulator) -> tuple[str, str]:
    """One agent run with the Agents SDK's Runner; returns (the text the model got, the final output)."""
    model = _ScriptedModel()
    with anyio.fail_after(60):
        async with _agents_server(emu) as server:
            assert server.use_structured_content is False  # the SDK's default
            agent = Agent(name="analyst", mcp_servers=[server], model=model)
            # No tracing: the SDK's default exporter would upload to OpenAI.
            result = await Runner.run(agent, SEED_QUESTION, run_config=RunConfig(tracing_disabled=True))
    assert model.tool_text is not None
    return model.tool_text, str(result.final_output)


async def test_an_openai_agents_sdk_agent_gets_the_answer_and_the_code_in_the_text(emu: Emulator) -> None:
    text, final = await _agents_call(emu)
    assert SEED_ANSWER in text and "123**21" in text and not text.lstrip().startswith("{")
    assert SEED_ANSWER in final
    assert PLANTED_KEY not in text


async def test_openai_agents_sdk_gets_what_arrived_before_a_failure_in_the_text(emu: Emulator) -> None:
    emu.add_fault(Fault.drop(after_events=45))  # the code ran and the answer had begun
    text, _ = await _agents_call(emu)
    assert "StreamInterruptedError" in text or "interrupted" in text.lower()
    assert "123**21" in text and "123 to the power of" in text
    assert PLANTED_KEY not in text
