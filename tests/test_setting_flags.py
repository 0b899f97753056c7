"""Each setting is offered the same way on every surface: one flag definition (help text included)
shared by `qwen-ci` and `qwen-ci-mcp`, and LangChain fields that are the core client's settings."""

from __future__ import annotations

import argparse

import pytest

from integrations.langchain import CodeInterpreterRunnable, QwenCodeInterpreterTool
from mcp_server.__main__ import build_parser
from qwen_ci_tool._config import SETTING_NAMES
from qwen_ci_tool.cli.flags import SETTING_FLAGS, settings_from
from qwen_ci_tool.cli.main import _parser


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize(
    "parser",
    [build_parser(), _subparser("ask"), _subparser("batch"), _subparser("doctor")],
    ids=["qwen-ci-mcp", "ask", "batch", "doctor"],
)
def test_every_setting_flag_is_offered_with_the_one_definition(parser: argparse.ArgumentParser) -> None:
    actions = _actions(parser)
    for flag in SETTING_FLAGS:
        action = actions[flag.flag]
        assert (action.help, action.type, action.choices, action.default) == (flag.help, flag.type, flag.choices, None)
        assert flag.setting in SETTING_NAMES


def test_the_flags_read_back_as_the_clients_settings() -> None:
    args = build_parser().parse_args(["--idle-timeout", "7", "--region", "singapore", "--max-retries", "0"])
    settings = settings_from(args)
    assert settings["idle_timeout"] == 7.0 and settings["region"] == "singapore" and settings["max_retries"] == 0
    assert set(settings) == {flag.setting for flag in SETTING_FLAGS}


@pytest.mark.parametrize("cls", [QwenCodeInterpreterTool, CodeInterpreterRunnable])
def test_the_langchain_settings_are_the_core_clients_settings(cls: type) -> None:
    fields = {name for name in cls.model_fields if name in SETTING_NAMES}
    # Every setting a flag offers is a constructor argument too, and is handed to the core as is.
    assert {flag.setting for flag in SETTING_FLAGS} | {"api_key"} <= fields
    assert set(cls(api_key="sk-x")._core_settings()) == fields
