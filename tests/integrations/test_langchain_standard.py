"""The langchain-tests standard suites for tools, against the local emulator.

The suites require test classes and must not be overridden (their no-override guard checks).
The integration suite reaches the emulator through ``DASHSCOPE_HTTP_BASE_URL``, which the core
reads when no ``base_url`` is given, because the suite builds the tool from fixed parameters.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from integrations.langchain import QwenCodeInterpreterTool
from qwen_ci_tool.testing import SEED_QUESTION, Emulator


@pytest.fixture(autouse=True)
def _point_the_core_at_the_emulator(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", emulator.base_url)


class _OurTool:
    """What both suites build and invoke."""

    @property
    def tool_constructor(self) -> type[QwenCodeInterpreterTool]:
        return QwenCodeInterpreterTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"question": SEED_QUESTION}


class TestQwenCodeInterpreterToolUnit(_OurTool, ToolsUnitTests):
    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"api_key": "sk-test"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return {"DASHSCOPE_API_KEY": "sk-from-env"}, {}, {"api_key": "sk-from-env"}


class TestQwenCodeInterpreterToolIntegration(_OurTool, ToolsIntegrationTests):
    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"api_key": "sk-test", "total_timeout": 20.0}
