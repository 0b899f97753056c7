"""Two small rules with one side of a condition unguarded (issue 26, KINDS=more): which failed import is
the [mcp] extra's (others are re-raised as they are), and an empty secret masks nothing in the logs."""

from __future__ import annotations

import pytest

from mcp_server import _missing_extra
from mcp_server._logs import MASK, Redactor


@pytest.mark.parametrize("name", ["uvicorn", "prometheus_client.core", "mcp.server"])
def test_a_missing_module_of_another_project_is_the_extras_and_the_message_names_it(name: str) -> None:
    message = _missing_extra(ModuleNotFoundError(f"No module named {name!r}", name=name))
    assert message is not None
    assert f"module {name.partition('.')[0]!r} is missing" in message and "pip install 'qwen-ci-tool[mcp]'" in message


@pytest.mark.parametrize("name", [None, "", "qwen_ci_tool._x", "mcp_server._x", "integrations.x"])
def test_a_missing_module_of_this_project_or_of_no_name_is_not_the_extras(name: str | None) -> None:
    assert _missing_extra(ModuleNotFoundError("No module", name=name)) is None


def test_an_empty_secret_masks_nothing() -> None:
    redact = Redactor(["", "sk-secret-value"], lambda: ["", "token-0123456789"])
    line = "call with sk-secret-value and token-0123456789 done"
    assert redact(line) == f"call with {MASK} and {MASK} done"
    assert redact("plain text") == "plain text"
