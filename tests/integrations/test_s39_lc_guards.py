"""Audit 15's miss in the LangChain face (issue 26)."""

from __future__ import annotations

import re

import pytest

from integrations.langchain import CodeInterpreterRunnable, QwenCodeInterpreterTool
from qwen_ci_tool import AuthenticationError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault


@pytest.mark.parametrize(
    ("variable", "by_runnable", "by_tool"),
    [
        ("QWEN_CI_API_KEY", "the QWEN_CI_API_KEY environment variable", "the QWEN_CI_API_KEY environment variable"),
        ("DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY (or pass api_key=)", "api_key= (or DASHSCOPE_API_KEY)"),
    ],
)
def test_a_refused_key_from_either_key_variable_is_named_by_that_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, by_runnable: str, by_tool: str
) -> None:
    # Audit 15's a45: the key read from the environment was compared with DASHSCOPE_API_KEY alone, so a key from
    # QWEN_CI_API_KEY went to the core as an argument and a refusal said "the api_key= argument" instead.
    monkeypatch.setenv(variable, "sk-from-the-environment")
    with Emulator() as emu:
        emu.add_fault(Fault.status(401), times=2)
        runnable = CodeInterpreterRunnable(base_url=emu.base_url, max_retries=0)
        tool = QwenCodeInterpreterTool(base_url=emu.base_url, max_retries=0)
        try:
            with pytest.raises(AuthenticationError, match=rf"Check the API key in {re.escape(by_runnable)}\."):
                runnable.invoke(SEED_QUESTION)
            call = {"type": "tool_call", "id": "c1", "name": tool.name, "args": {"question": SEED_QUESTION}}
            message = tool.invoke(call)
        finally:
            runnable.close()
            tool.close()
    assert f"Check the API key in {by_tool}." in message.content
