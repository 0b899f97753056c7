"""Hand breaks of the LangChain tool and Runnable (issue 26, hp-clilc): each test fails with the break named in it."""

from __future__ import annotations

import pytest
from langchain_core.tools import ToolException

from qwen_ci_tool import AuthenticationError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ._helpers import make_tool


def test_a_failure_raised_as_a_tool_exception_keeps_the_service_error_as_its_cause(emulator: Emulator) -> None:
    # Break: `raise fail(...) from err` -> `from None` - an application that lets the ToolException through
    # (handle_tool_error=False) could no longer reach the core error (its class, .retryable, .partial).
    emulator.add_fault(Fault.status(401))
    tool = make_tool(emulator, handle_tool_error=False)
    with pytest.raises(ToolException) as caught:
        tool.invoke({"question": SEED_QUESTION})
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert caught.value.__cause__.retryable is False
