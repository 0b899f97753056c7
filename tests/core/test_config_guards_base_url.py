"""The base URL's refusals and normalisation (qwen_ci_tool._config.normalize_base_url), pinned where the mutation
sweep of issue 26 (round 2) found a one-line break that no in-process test caught."""

from __future__ import annotations

import pytest

from qwen_ci_tool import CodeInterpreter, ConfigurationError

from ..conftest import PLANTED_KEY


def refusal(base_url: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key="sk-test", base_url=base_url)
    return str(info.value)


def test_credentials_in_the_base_url_are_refused_saying_why_and_where_the_key_goes() -> None:
    text = refusal(f"https://user:{PLANTED_KEY}@gateway.example.com")

    assert "The base URL contains credentials (user:password@)" in text
    assert "would show in every message that names the URL." in text
    assert "put the key in DASHSCOPE_API_KEY" in text and PLANTED_KEY not in text


def test_an_unparseable_base_url_whose_password_holds_an_at_sign_shows_only_what_follows_the_last_one() -> None:
    # httpx cannot parse it (an unclosed IPv6 host), so the credential check cannot see the user:password@ part:
    # the message shows only what comes after the last '@', never a piece of the password.
    text = refusal("http://me:hunter2@secret@[::1")

    assert "Invalid base URL '[::1'." in text
    assert "hunter2" not in text and "secret" not in text and "me:" not in text


def test_a_gateway_prefix_ending_in_a_capital_x_is_kept_whole() -> None:
    client = CodeInterpreter(api_key="sk-test", base_url="https://gateway.example.com/BOX/")

    assert client.settings.base_url == "https://gateway.example.com/BOX"
