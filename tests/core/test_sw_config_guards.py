"""Questions and key files refused with the fix named, for the survivors of the mutation sweep of
qwen_ci_tool/_config.py (issue 26, helper sw-config): each test fails with the break named in its comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qwen_ci_tool import CodeInterpreter, ConfigurationError
from qwen_ci_tool._config import resolve_settings

from ..conftest import PLANTED_KEY

#: Nothing listens here: every case below is refused before a connection is tried.
NOWHERE = "http://127.0.0.1:9"


def refusal(question: str | None = None, messages: Any = None) -> str:
    """What ``CodeInterpreter.run`` says when it refuses the question before sending it."""
    with CodeInterpreter(api_key="sk-x", base_url=NOWHERE) as client, pytest.raises(ConfigurationError) as info:
        client.run(question, messages=messages)
    return info.value.message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("a\x00b\x00", "a NUL character at character 1"),  # find -> rfind
        ("\x00then\udc80", "a NUL character at character 0"),  # `at < 0` -> `at <= 0` / `at < 1`
    ],
    ids=["two NULs", "a NUL first then a lone surrogate"],
)
def test_text_that_cannot_be_sent_names_the_first_bad_character_even_at_the_very_start(text: str, named: str) -> None:
    assert refusal(text).startswith(f"The question is not valid text: {named}.")


def test_text_that_cannot_be_sent_says_it_looks_like_binary_data_and_to_send_utf8_text() -> None:
    assert refusal("q\x00").endswith(
        " This looks like binary data or text read with the wrong encoding; send UTF-8 text only"
        " (the interpreter cannot read files)."
    )


def test_neither_a_question_nor_messages_is_refused_saying_to_pass_one_of_them() -> None:
    assert refusal() == "Pass either a question string or messages=[...], not both and not neither."


def test_a_tool_message_is_refused_saying_function_calling_cannot_be_combined_with_the_interpreter() -> None:
    message = refusal(messages=[{"role": "tool", "content": "42"}, {"role": "user", "content": "q"}])
    assert message == (
        "messages[0] has role 'tool'; use one of system, user, assistant"
        " (the code interpreter cannot be combined with function calling)."
    )


def test_messages_ending_with_the_assistant_are_refused_saying_the_last_must_be_the_users_question() -> None:
    message = refusal(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    assert message == "The last message must come from the user: it is the question to answer."


def test_a_last_message_whose_text_parts_are_all_blank_is_an_empty_question() -> None:
    # "".join of the parts -> "XXXX".join: the blank parts would no longer be seen as empty.
    message = refusal(messages=[{"role": "user", "content": [{"text": " "}, {"text": "\n"}]}])
    assert message.startswith("The question is empty: ask something")


def test_a_key_file_saved_with_a_byte_order_mark_gives_the_key_without_it(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(PLANTED_KEY + "\r\n", encoding="utf-8-sig")

    settings = resolve_settings(env={"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})

    assert settings.api_key is not None and settings.api_key.get_secret_value() == PLANTED_KEY
    assert settings.key_source == "DASHSCOPE_API_KEY_FILE_PATH"


@pytest.mark.parametrize(
    "content",
    [(PLANTED_KEY + "\n").encode("utf-16"), b"\xff\xfe\x00" + PLANTED_KEY.encode()],
    ids=["utf-16", "binary"],
)
def test_a_key_file_that_is_not_utf8_text_is_a_configuration_error_that_shows_none_of_it(
    tmp_path: Path, content: bytes
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(content)

    with pytest.raises(ConfigurationError) as info:
        resolve_settings(env={"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})

    assert info.value.message.startswith("DASHSCOPE_API_KEY_FILE_PATH names a file that is not UTF-8 text")
    assert "save the key in it as plain text" in info.value.message
    assert PLANTED_KEY not in str(info.value) and "sk-" not in str(info.value)


@pytest.mark.parametrize("url", ["http:///api/v1", "http://:8080"], ids=["no host", "a port and no host"])
def test_a_base_url_without_a_host_is_refused_before_anything_is_sent(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key="sk-x", base_url=url)
    assert info.value.message == f"Invalid base URL {url!r}."
