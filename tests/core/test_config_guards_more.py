"""Settings and questions refused with the fix named, for the clauses of _config's conditions that the
KINDS=more sweep of issue 26 found unguarded: each case is refused by one clause alone."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_ci_tool import CodeInterpreter, ConfigurationError

#: Nothing listens here: every case below is refused before a connection is tried.
NOWHERE = "http://127.0.0.1:9"


@pytest.mark.parametrize("key", ["sk-abc\u00e9", "sk-abc\x01", "sk-a bc"], ids=["not ascii", "not printable", "space"])
def test_a_key_with_a_character_no_key_has_is_refused_before_anything_is_sent(key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key=key, base_url=NOWHERE)
    assert info.value.message.startswith("The API key contains spaces or characters that are not printable ASCII.")
    assert key not in str(info.value)


@pytest.mark.parametrize("retries", [1.5, "3"], ids=["float", "text"])
def test_max_retries_that_is_not_an_integer_is_refused_naming_the_value(retries: object) -> None:
    with pytest.raises(ConfigurationError, match=r"max_retries must be an integer >= 0") as info:
        CodeInterpreter(api_key="sk-x", base_url=NOWHERE, max_retries=retries)  # type: ignore[arg-type]
    assert f"Invalid max retries: {retries!r}." in info.value.message


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([{"role": "user", "content": ["text"]}], "messages[0]: content parts must be {'text': '...'} dicts"),
        (5, "messages must be a non-empty list of {'role': ..., 'content': ...} dicts."),
        (
            {"role": "user", "content": "hi"},
            "messages must be a non-empty list of {'role': ..., 'content': ...} dicts.",
        ),
    ],
    ids=["a part that is not a dict", "a number", "one message not in a list"],
)
def test_messages_of_the_wrong_shape_are_refused_saying_what_they_must_be(messages: Any, message: str) -> None:
    with CodeInterpreter(api_key="sk-x", base_url=NOWHERE) as client, pytest.raises(ConfigurationError) as info:
        client.run(messages=messages)
    assert message in info.value.message
