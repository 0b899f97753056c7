"""A scripted chat model for offline agent tests, and tool-call builders."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from integrations.langchain import QwenCodeInterpreterTool
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

TOOL_NAME = "qwen_code_interpreter"


def make_tool(emulator: Emulator, **settings: Any) -> QwenCodeInterpreterTool:
    """The tool on the emulator; ``settings`` override the defaults."""
    options: dict[str, Any] = {"api_key": "sk-test", "base_url": emulator.base_url, "total_timeout": 20.0}
    return QwenCodeInterpreterTool(**{**options, **settings})


def agent_input(question: str = SEED_QUESTION) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}]}


def tool_call(question: str, call_id: str = "call_1") -> ToolCall:
    return ToolCall(name=TOOL_NAME, args={"question": question}, id=call_id, type="tool_call")


class ScriptedToolModel(FakeMessagesListChatModel):
    """Calls the tool once, then answers with exactly what the tool returned.

    ``bind_tools`` returns the model itself, since ``create_agent`` binds tools to any model.
    """

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"The code interpreter says: {last.content}")
            return ChatResult(generations=[ChatGeneration(message=reply)])
        return super()._generate(messages, stop, run_manager, **kwargs)


def scripted_model(question: str) -> ScriptedToolModel:
    return ScriptedToolModel(responses=[AIMessage(content="", tool_calls=[tool_call(question)])])
