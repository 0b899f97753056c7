"""The protocol registry is the one source of protocol names and of what each protocol returns."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_ci_tool import MODELS, CodeInterpreter, CodeInterpreterResult, ConfigurationError
from qwen_ci_tool._protocols import PROTOCOLS, describe_protocols, returning
from qwen_ci_tool._protocols._native import NativeProtocol
from qwen_ci_tool.cli.flags import SETTING_FLAGS


def test_names_and_capabilities_come_from_the_registry() -> None:
    assert list(PROTOCOLS) == ["dashscope", "openai", "responses"]
    assert returning(code=True) == ["dashscope", "responses"] and returning(output=True) == ["responses"]
    assert describe_protocols() == (
        "'dashscope' returns the code, 'openai' returns no code, 'responses' returns the code and its output"
    )
    flag = next(f for f in SETTING_FLAGS if f.flag == "--protocol")
    assert tuple(flag.choices or ()) == tuple(PROTOCOLS)
    for row in MODELS:  # the model table speaks of registered protocols only
        assert row.protocols <= set(PROTOCOLS), row.pattern


def _result(protocol: str) -> CodeInterpreterResult:
    return CodeInterpreterResult.from_dict({"answer": "42", "protocol": protocol, "status": "completed"})


def test_what_a_result_says_about_missing_code_follows_the_registry() -> None:
    assert _result("openai").code_returned is False
    assert "Protocol 'openai' does not return the code" in _result("openai").to_markdown()
    assert _result("dashscope").code_returned is True


def test_adding_a_protocol_is_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    class Echo(NativeProtocol):  # a native-framed protocol under another name
        name = "echo"
        returns_code, returns_output = False, False

    with pytest.raises(ConfigurationError, match="Unknown protocol 'echo'"):
        CodeInterpreter(api_key="sk-x", protocol="echo")
    monkeypatch.setitem(PROTOCOLS, "echo", Echo())
    client: Any = CodeInterpreter(api_key="sk-x", protocol="echo")
    assert client.protocol == "echo"
    assert _result("echo").code_returned is False and "'echo' returns no code" in describe_protocols()
