"""Each setting's flag as the command line offers it (cli/flags.py): named after the setting, helped with the
table's words and its environment variable, typed and limited to its choices - checked against the settings
table itself, on parsers built inside the tests (guards from the mutation sweep, issue 26)."""

from __future__ import annotations

import argparse

import pytest

from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.main import _parser

FACED = [row for row in SETTINGS.values() if row.face]


def _actions(command: str) -> dict[str, argparse.Action]:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {option: action for action in sub.choices[command]._actions for option in action.option_strings}


@pytest.mark.parametrize("command", ["ask", "batch", "doctor"])
def test_every_faced_setting_has_a_flag_named_after_it_with_the_tables_help_type_and_choices(command: str) -> None:
    actions = _actions(command)
    for row in FACED:
        action = actions["--" + row.name.replace("_", "-")]
        assert action.dest == row.name
        assert action.help == f"{row.help}; env {row.env}"
        assert (action.type, action.choices, action.default) == (row.kind, row.choices, None)


def test_a_flag_value_outside_its_choices_is_a_usage_error_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ask", "--protocol", "bogus", "q"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "argument --protocol: invalid choice: 'bogus'" in err


def test_a_number_flag_takes_numbers_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--max-retries", "many"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "argument --max-retries: invalid int value: 'many'" in err
