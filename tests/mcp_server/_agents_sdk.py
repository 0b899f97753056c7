"""An OpenAI Agents SDK agent whose scripted model calls the server's tool once over stdio
(test_interop's; a module of its own so that only the tests that use the SDK import it)."""

from __future__ import annotations

import json
from typing import Any

import anyio
from agents import Agent, ModelResponse, RunConfig, Runner, Usage
from agents.mcp import MCPServerStdio
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from mcp_server import TOOL_NAME
from qwen_ci_tool.testing import SEED_QUESTION

from ..conftest import PLANTED_KEY
from .processes import server_env


def _agents_server(command: list[str]) -> MCPServerStdio:
    params = {"command": command[0], "args": command[1:], "env": server_env(DASHSCOPE_API_KEY=PLANTED_KEY)}
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


async def agents_call(command: list[str]) -> tuple[str, str]:
    """One agent run with the Agents SDK's Runner against the stdio server *command* starts; returns (the text the model got, the final output)."""
    model = _ScriptedModel()
    with anyio.fail_after(60):
        async with _agents_server(command) as server:
            assert server.use_structured_content is False  # the SDK's default
            agent = Agent(name="analyst", mcp_servers=[server], model=model)
            # No tracing: the SDK's default exporter would upload to OpenAI.
            result = await Runner.run(agent, SEED_QUESTION, run_config=RunConfig(tracing_disabled=True))
    assert model.tool_text is not None
    return model.tool_text, str(result.final_output)
