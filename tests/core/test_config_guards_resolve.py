"""resolve_settings' refusals and precedence, each pinned by a test that fails when its line breaks (found by the
mutation sweep of qwen_ci_tool/_config.py, issue 26)."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool._config import resolve_settings


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
