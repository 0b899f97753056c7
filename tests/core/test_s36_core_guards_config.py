"""Settings resolution (qwen_ci_tool._config), session 36's hand sweep: a value given as falsy is still given, a
blank variable is absent, and no refusal echoes a credential; each test fails with the one-line break in its
docstring."""

from __future__ import annotations

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool._config import resolve_settings


def test_max_retries_given_as_zero_beats_the_environment() -> None:
    """`if value is not None` -> `if value` when taking the given settings (0 retries read as not given)."""
    assert resolve_settings(env={"QWEN_CI_MAX_RETRIES": "3"}, max_retries=0).max_retries == 0


def test_a_bad_setting_given_as_an_argument_is_named_as_the_setting_not_the_variable_it_overrides() -> None:
    """`if name not in explicit` dropped from where each value came from (the variable named for an argument)."""
    with pytest.raises(ConfigurationError, match="Invalid max retries: -1"):
        resolve_settings(env={"QWEN_CI_MAX_RETRIES": "3"}, max_retries=-1)


def test_an_empty_protocol_or_base_url_argument_means_the_default() -> None:
    """`values.get("protocol") or DEFAULT` -> `.get("protocol", DEFAULT)`; `if base_url` -> `is not None`."""
    settings = resolve_settings(env={}, protocol="", base_url="")
    assert settings.protocol == "dashscope" and settings.base_url == "https://dashscope.aliyuncs.com"
    assert settings.custom_base_url is False


def test_an_empty_workspace_is_no_workspace() -> None:
    """`values.get("workspace") or None` -> `values.get("workspace")` (an empty header would be sent)."""
    assert resolve_settings(env={}, workspace="").workspace is None


def test_a_blank_qwen_ci_key_variable_does_not_hide_the_vendor_key() -> None:
    """`if env.get(var, "").strip()` -> `if env.get(var, "")` when choosing the key's variable."""
    settings = resolve_settings(env={"QWEN_CI_API_KEY": "  ", "DASHSCOPE_API_KEY": "sk-abc"})
    assert settings.key_source == "DASHSCOPE_API_KEY"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-abc"


def test_a_key_with_an_inner_space_is_refused() -> None:
    """`or " " in value` dropped (a space is printable ASCII)."""
    with pytest.raises(ConfigurationError, match="contains spaces"):
        resolve_settings(env={}, api_key="sk a")


def test_an_unparseable_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    """`url.strip().rsplit('@', 1)[-1]` -> `url.strip()` in the refusal of a URL httpx cannot parse."""
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(env={}, base_url="http://user:pw@[::1")
    assert "pw" not in str(info.value) and "user" not in str(info.value)


@pytest.mark.parametrize("value", [0, False, ""])
def test_streaming_switched_off_by_any_falsy_value_is_refused(value: object) -> None:
    """`not extra[name]` -> `extra[name] is False` (0 switches streaming off as well as False)."""
    with pytest.raises(ConfigurationError, match="streaming output"):
        resolve_settings(env={}, extra_parameters={"stream": value})
