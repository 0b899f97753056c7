"""Behaviours audit 8 (issue 26) broke without a test failing, pinned: each test fails with its break. And a
renamed tool's failures name the tool as the model knows it (found beside them)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ToolErrorMiddleware
from langchain_core.messages import AIMessage, ToolCall, ToolMessage

from integrations.langchain import QwenCodeInterpreterTool, error_content
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ._helpers import ScriptedToolModel, agent_input, make_tool

RENAMED = "python_sandbox"


def _call(args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call_1", "name": RENAMED, "args": args}


def test_a_renamed_tools_failures_name_it_as_the_model_knows_it(emulator: Emulator) -> None:
    tool = make_tool(emulator, name=RENAMED, max_retries=0)
    bad = tool.invoke(_call({"question": 5}))
    emulator.add_fault(Fault.status(401))
    refused = tool.invoke(_call({"question": SEED_QUESTION}))

    assert isinstance(bad, ToolMessage) and bad.status == "error"
    assert bad.content.startswith(f"The {RENAMED} call failed (ConfigurationError): The call's arguments are invalid")
    assert f"Fix: call {RENAMED} again with `question` corrected." in bad.content
    assert "qwen_code_interpreter" not in bad.content
    assert isinstance(refused, ToolMessage) and refused.content.startswith(f"The {RENAMED} call failed")


def test_the_error_middleware_names_a_renamed_tool_as_the_model_called_it(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401))
    tool = make_tool(emulator, name=RENAMED, max_retries=0, raise_errors=True)
    call = ToolCall(name=RENAMED, args={"question": SEED_QUESTION}, id="call_1", type="tool_call")
    model = ScriptedToolModel(responses=[AIMessage(content="", tool_calls=[call])])
    agent = create_agent(model, tools=[tool], middleware=[ToolErrorMiddleware(error_content)])

    state = agent.invoke(agent_input())

    [message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert message.status == "error" and str(message.content).startswith(f"The {RENAMED} call failed")


@pytest.mark.parametrize("setting", ["region", "model", "protocol", "idle_timeout", "total_timeout", "max_retries"])
def test_a_setting_given_as_none_is_the_default(emulator: Emulator, setting: str) -> None:
    tool = QwenCodeInterpreterTool(api_key="sk-test", base_url=emulator.base_url, **{setting: None})
    assert getattr(tool, setting) is None
    assert SEED_ANSWER in tool.invoke({"question": SEED_QUESTION})
