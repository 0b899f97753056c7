"""resolve_settings' refusals and precedence, each pinned by a test that fails when its line breaks (found by the
mutation sweep of qwen_ci_tool/_config.py, issue 26)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool._config import build_messages, resolve_settings


def refusal(**given: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(env={}, **given)
    return caught.value


def test_unknown_settings_are_each_named_then_every_setting_is_listed() -> None:
    message = refusal(tiemout=1, modle="x").message

    assert message.startswith("Unknown setting 'modle', 'tiemout'; the settings are: api_key, base_url, ")
    assert message.endswith(", total_timeout, workspace.")


def test_a_base_url_given_with_a_region_is_kept() -> None:
    settings = resolve_settings(env={}, region="beijing", base_url="https://gateway.example.test/api/v1")

    assert settings.base_url == "https://gateway.example.test" and settings.custom_base_url


def test_an_unknown_protocol_is_named_in_the_message() -> None:
    err = refusal(protocol="grpc")

    assert err.message == "Unknown protocol 'grpc'."
    assert "dashscope, openai, responses" in str(err)


@pytest.mark.parametrize("region", ["mars", ["beijing"], 1])
def test_an_unknown_region_of_any_type_is_a_configuration_error_naming_it(region: Any) -> None:
    err = refusal(region=region)

    assert err.message == f"Unknown region {region!r}."
    assert "or set base_url" in str(err)


@pytest.mark.parametrize("model", ["", 5])
def test_an_empty_or_non_text_model_is_refused(model: Any) -> None:
    assert refusal(model=model).message == f"Invalid model: {model!r}."


def test_a_key_with_a_plain_space_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="contains spaces"):
        resolve_settings(env={}, api_key="sk-abc def")


def test_a_nul_as_the_very_first_character_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        build_messages("\x00What is 2+2?", None)
    assert "a NUL character at character 0" in info.value.message


def test_a_timeout_under_a_second_is_accepted() -> None:
    assert resolve_settings(env={}, idle_timeout=0.5).idle_timeout == 0.5


def test_a_base_url_of_another_scheme_is_refused() -> None:
    assert refusal(base_url="ftp://example.com").message == "Invalid base URL 'ftp://example.com'."


def test_a_key_read_from_the_key_file_names_the_file_variable_as_its_source(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-the-file\n", encoding="utf-8")

    settings = resolve_settings(env={"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})

    assert settings.key_source == "DASHSCOPE_API_KEY_FILE_PATH"


def test_bad_text_in_a_content_part_names_the_message_it_is_in() -> None:
    with pytest.raises(ConfigurationError) as info:
        build_messages(None, [{"role": "user", "content": [{"type": "text", "text": "a\x00"}]}])
    assert info.value.message.startswith("messages[0] is not valid text: a NUL character at character 1.")


def test_an_empty_key_file_says_to_write_the_key_or_unset_the_variable(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("\n", encoding="utf-8")

    with pytest.raises(ConfigurationError) as info:
        resolve_settings(env={"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})

    assert info.value.message == (
        "DASHSCOPE_API_KEY_FILE_PATH names an empty file: write the key into it, or unset DASHSCOPE_API_KEY_FILE_PATH."
    )


def test_a_malformed_key_says_to_copy_it_again_into_where_it_came_from() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(env={"QWEN_CI_API_KEY": "sk-a b"})
    assert str(info.value).endswith(
        "Copy it again from the Model Studio console into the QWEN_CI_API_KEY environment variable."
    )


def test_an_unknown_role_other_than_tool_gets_no_function_calling_hint() -> None:
    with pytest.raises(ConfigurationError) as info:
        build_messages(None, [{"role": "developer", "content": "x"}, {"role": "user", "content": "q"}])
    assert info.value.message == "messages[0] has role 'developer'; use one of system, user, assistant."
