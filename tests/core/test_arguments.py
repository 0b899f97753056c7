"""How a tool call's invalid arguments are told (the pure part; the tools' tests call it through MCP and LangChain)."""

from __future__ import annotations

from qwen_ci_tool._arguments import invalid_arguments


def test_each_argument_is_named_once_with_what_is_allowed_and_the_fix_names_them_all() -> None:
    errors = [
        {"type": "string_type", "loc": ("question",), "msg": "Input should be a valid string", "input": 5},
        {"type": "string_too_short", "loc": ("question",), "msg": "String should have at least 1 character"},
        {"type": "bool_parsing", "loc": ("include_reasoning",), "msg": "...", "input": "maybe"},
    ]
    text = invalid_arguments("tool", errors, {"question": "a task", "include_reasoning": "true or false"}).message

    assert text.count("`question`") == 2  # its sentence and the fix: the second error on it is not repeated
    assert "`question` is a number, the wrong type: it must be a task." in text
    assert "`include_reasoning` is a string, the wrong type: it must be true or false." in text
    assert text.endswith("Fix: call tool again with `question`, `include_reasoning` corrected.")
    assert "maybe" not in text  # never the value


def test_an_error_of_a_kind_not_worded_here_gives_the_validators_own_short_message() -> None:
    errors = [{"type": "value_error", "loc": ("run_id",), "msg": "Value error, no such run", "input": "x"}]
    text = invalid_arguments("tool", errors, {}).message

    assert "`run_id` was refused (Value error, no such run)." in text
