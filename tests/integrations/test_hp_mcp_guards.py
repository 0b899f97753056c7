"""Behaviours of the LangChain tool that breaks no mutation tool makes left unguarded (issue 26, helper hp-mcp's
hand pass): a field's annotation, a default, the order of the key's variables. Each test fails with its break."""

from __future__ import annotations

import pytest
from langchain_core.messages import ToolMessage

from integrations.langchain import QwenCodeInterpreterTool
from qwen_ci_tool import CodeInterpreterResult
from qwen_ci_tool._config import SETTINGS, resolve_settings
from qwen_ci_tool._constants import ENV_API_KEY
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ._helpers import make_tool, tool_call


def test_the_model_is_shown_only_the_question_never_the_injected_runtime() -> None:
    schema = QwenCodeInterpreterTool(api_key="sk-test").tool_call_schema.model_json_schema()
    assert list(schema["properties"]) == ["question"] and schema["required"] == ["question"]


def test_by_default_a_failure_is_an_error_message_for_the_agent_and_the_content_leaves_out_the_reasoning(
    emulator: Emulator,
) -> None:
    tool = make_tool(emulator, max_retries=0)
    answer = tool.invoke(tool_call(SEED_QUESTION))
    emulator.add_fault(Fault.status(401))
    failed = tool.invoke(tool_call(SEED_QUESTION, "call_2"))

    assert isinstance(answer, ToolMessage) and answer.status == "success"
    reasoning = CodeInterpreterResult.from_dict(answer.artifact).reasoning
    assert reasoning and reasoning not in answer.content
    assert isinstance(failed, ToolMessage) and failed.status == "error"


def test_with_both_key_variables_set_the_tool_uses_the_one_the_core_reads_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SETTINGS["api_key"].env, "sk-from-the-tools-own-variable")
    monkeypatch.setenv(ENV_API_KEY, "sk-from-dashscope")
    core = resolve_settings().api_key
    tool = QwenCodeInterpreterTool()
    assert tool.api_key is not None and core is not None
    assert tool.api_key.get_secret_value() == core.get_secret_value() == "sk-from-the-tools-own-variable"
