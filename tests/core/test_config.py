from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from qwen_ci_tool import CodeInterpreter, ConfigurationError, Secret, lookup_model
from qwen_ci_tool._config import build_messages, normalize_base_url, resolve_settings
from qwen_ci_tool._constants import MAX_INPUT_CHARS

from ..conftest import PLANTED_KEY


@pytest.mark.parametrize(
    "url",
    [
        "https://dashscope.aliyuncs.com",
        "https://dashscope.aliyuncs.com/",
        "https://dashscope.aliyuncs.com/api/v1",
        "https://dashscope.aliyuncs.com/compatible-mode/v1/",
        "https://dashscope.aliyuncs.com/api/v2/apps/protocols/compatible-mode/v1",
    ],
)
def test_base_urls_with_api_suffixes_normalise_to_the_service_root(url: str) -> None:
    assert normalize_base_url(url) == "https://dashscope.aliyuncs.com"


def test_a_base_url_without_scheme_is_refused_with_an_example() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("https://dashscope.aliyuncs.com")):
        CodeInterpreter(base_url="dashscope.aliyuncs.com")


def test_region_picks_the_root_and_an_unknown_region_lists_the_choices() -> None:
    assert CodeInterpreter(region="singapore").base_url == "https://dashscope-intl.aliyuncs.com"
    with pytest.raises(ConfigurationError, match="beijing, singapore"):
        CodeInterpreter(region="mars")


def test_the_vendor_sdk_environment_variables_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(PLANTED_KEY + "\n")
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(key_file))
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "http://127.0.0.1:9/api/v1")
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "ws-9")
    s = resolve_settings()
    assert s.api_key == Secret(PLANTED_KEY) and s.base_url == "http://127.0.0.1:9" and s.workspace == "ws-9"
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    assert resolve_settings().api_key == Secret("sk-env")


def test_unknown_protocol_is_refused_naming_the_three() -> None:
    with pytest.raises(ConfigurationError, match="dashscope, openai, responses"):
        CodeInterpreter(protocol="grpc")


def test_unknown_models_pass_through_with_a_guessed_native_path() -> None:
    assert CodeInterpreter(model="qwen9-secret").model == "qwen9-secret"
    assert lookup_model("qwen4.2-plus").native_endpoint == "multimodal-generation"
    assert lookup_model("qwen3-max-2027-01-01").native_endpoint == "text-generation"
    assert lookup_model("qwen3-max-2027-01-01").known is True
    assert lookup_model("llama").known is False


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"tools": [{"type": "function"}]}, "cannot be used together"),
        ({"enable_thinking": False}, "thinking enabled"),
        ({"incremental_output": False}, "streaming"),
        ({"model": "x"}, "own argument"),
    ],
)
def test_extra_parameters_that_break_the_interpreter_are_refused_before_sending(extra: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        CodeInterpreter(extra_parameters=extra)


@pytest.mark.parametrize("value", [0, -1, "10", True])
def test_timeouts_must_be_positive_numbers(value: object) -> None:
    with pytest.raises(ConfigurationError, match="idle_timeout must be a positive number"):
        CodeInterpreter(idle_timeout=value)  # type: ignore[arg-type]


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key="sk-abc déf")
    assert "déf" not in str(info.value)


@pytest.mark.parametrize(
    ("question", "messages", "match"),
    [
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("x" * (MAX_INPUT_CHARS + 1), None, "limit"),
        (None, None, "either"),
        ("q", [{"role": "user", "content": "q"}], "either"),
        (None, [], "non-empty list"),
        (None, [{"role": "tool", "content": "x"}], "function calling"),
        (None, [{"role": "wizard", "content": "x"}], "role 'wizard'"),
        (None, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "last message"),
        (
            None,
            [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
            "system message",
        ),
        (None, [{"role": "user", "content": [{"image": "x.png"}]}], "only text"),
        (None, [{"role": "user", "content": 42}], "string or a list"),
    ],
)
def test_bad_input_is_a_configuration_error_before_sending(question, messages, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=match):
        build_messages(question, messages)


def test_a_system_prompt_and_history_are_accepted() -> None:
    msgs = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "2**10?"},
        {"role": "assistant", "content": "1024"},
        {"role": "user", "content": [{"text": "and 2**20?"}]},
    ]
    assert build_messages(None, msgs) == msgs


def test_the_key_is_in_no_repr_str_or_dict_and_cannot_be_pickled() -> None:
    ci = CodeInterpreter(api_key=PLANTED_KEY)
    shown = repr(ci) + str(ci) + repr(ci.settings) + repr(vars(ci)) + str(ci.settings.api_key)
    assert PLANTED_KEY not in shown
    with pytest.raises(TypeError):
        pickle.dumps(ci.settings.api_key)


def test_a_misspelt_setting_is_refused_with_the_list_of_settings() -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown setting 'idle_timout'.*idle_timeout"):
        CodeInterpreter(idle_timout=5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("ok\udc80 then\x00", "a lone surrogate ('\\udc80', what an undecodable byte becomes) at character 2"),
        ("ok\x00 then\udc80", "a NUL character at character 2"),
    ],
    ids=["surrogate first", "NUL first"],
)
def test_text_that_cannot_be_sent_is_refused_naming_the_first_bad_character(text: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        build_messages(text, None)
    assert f"The question is not valid text: {named}." in info.value.message


def test_a_bad_value_given_as_an_argument_is_named_as_the_setting_even_when_the_environment_sets_it_too() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(env={"QWEN_CI_IDLE_TIMEOUT": "5"}, idle_timeout=-1)
    assert info.value.message == "Invalid idle timeout: -1."
