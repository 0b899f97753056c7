"""Settings read from the environment, word for word where a user acts on it: found by the
mutation sweep (issue 26) as lines no test read."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_ci_tool import ConfigurationError, Secret
from qwen_ci_tool._config import build_messages, resolve_settings
from qwen_ci_tool._constants import MAX_INPUT_CHARS

from ..conftest import PLANTED_KEY


def test_extra_parameters_are_read_from_the_environment_as_a_json_object() -> None:
    settings = resolve_settings(env={"QWEN_CI_EXTRA_PARAMETERS": ' {"top_p": 0.5} '})
    assert settings.extra_parameters == {"top_p": 0.5}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("QWEN_CI_EXTRA_PARAMETERS", "[1, 2]", "QWEN_CI_EXTRA_PARAMETERS must be a JSON object, got '[1, 2]'."),
        ("QWEN_CI_EXTRA_PARAMETERS", "{oops", "QWEN_CI_EXTRA_PARAMETERS must be a JSON object, got '{oops'."),
        ("QWEN_CI_MAX_RETRIES", "2.5", "QWEN_CI_MAX_RETRIES must be an integer, got '2.5'."),
        ("QWEN_CI_IDLE_TIMEOUT", "soon", "QWEN_CI_IDLE_TIMEOUT must be a number, got 'soon'."),
    ],
)
def test_a_value_of_the_wrong_kind_in_the_environment_says_the_kind_it_must_be(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(env={variable: value})
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("given", "message", "advice"),
    [
        (
            {"responses_path": "api/v2"},
            "responses_path must start with '/', e.g. '/compatible-mode/v1/responses'.",
            None,
        ),
        ({"max_retries": -1}, "Invalid max retries: -1.", "max_retries must be an integer >= 0."),
        ({"max_retries": True}, "Invalid max retries: True.", "max_retries must be an integer >= 0."),
        (
            {"model": " qwen3-max"},
            "Invalid model: ' qwen3-max'.",
            "model must be a non-empty model name such as 'qwen3-max', without spaces around it.",
        ),
        (
            {"extra_parameters": {"functions": []}},
            "The code interpreter and function calling (tools) cannot be used together: the service rejects the "
            "combination. Remove 'tools' from extra_parameters, or call the model without the code interpreter for "
            "function calling.",
            None,
        ),
        (
            {"extra_parameters": {"stream": 0}},
            "extra_parameters sets stream=0, but the code interpreter works only with thinking enabled and streaming "
            "output. Remove it.",
            None,
        ),
        (
            {"extra_parameters": {"enable_code_interpreter": False}},
            "extra_parameters sets enable_code_interpreter=False, but the code interpreter works only with thinking "
            "enabled and streaming output. Remove it.",
            None,
        ),
        (
            {"extra_parameters": {"messages": []}},
            "Pass messages as its own argument, not through extra_parameters.",
            None,
        ),
        ({"extra_parameters": {"input": []}}, "Pass input as its own argument, not through extra_parameters.", None),
    ],
)
def test_a_bad_setting_is_refused_with_what_is_wrong_and_the_fix(
    given: dict[str, object], message: str, advice: str | None
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(env={}, **given)  # type: ignore[arg-type]
    assert caught.value.message == message and caught.value.advice() == advice


def test_a_bad_max_retries_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(env={"QWEN_CI_MAX_RETRIES": "-1"})
    assert caught.value.message == "Invalid QWEN_CI_MAX_RETRIES: -1."


def test_extra_parameters_that_keep_the_interpreter_on_are_accepted() -> None:
    extra = {"enable_thinking": True, "stream": True, "top_p": 0.5}
    assert resolve_settings(env={}, extra_parameters=extra).extra_parameters == extra


def test_a_key_file_that_cannot_be_read_is_named_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(env={"DASHSCOPE_API_KEY_FILE_PATH": str(tmp_path / "missing")})
    assert (
        caught.value.message
        == "DASHSCOPE_API_KEY_FILE_PATH names a file that cannot be read (No such file or directory)."
    )


def test_the_qwen_ci_key_variable_beats_the_vendors_and_is_named_as_the_source() -> None:
    settings = resolve_settings(env={"QWEN_CI_API_KEY": PLANTED_KEY, "DASHSCOPE_API_KEY": "sk-vendor"})
    assert settings.api_key == Secret(PLANTED_KEY) and settings.key_source == "QWEN_CI_API_KEY"
    vendor = resolve_settings(env={"QWEN_CI_API_KEY": " ", "DASHSCOPE_API_KEY": "sk-vendor"})
    assert vendor.api_key == Secret("sk-vendor") and vendor.key_source == "DASHSCOPE_API_KEY"
    given = resolve_settings(env={"DASHSCOPE_API_KEY": "sk-vendor"}, api_key=Secret(PLANTED_KEY))
    assert given.api_key == Secret(PLANTED_KEY) and given.key_source == "api_key"


def test_the_us_region_is_virginia_and_an_empty_workspace_is_none() -> None:
    settings = resolve_settings(env={}, region="us", workspace="")
    assert settings.base_url == "https://dashscope-us.aliyuncs.com" and settings.region == "virginia"
    assert settings.workspace is None and settings.custom_base_url is False
    assert resolve_settings(env={}, base_url="http://127.0.0.1:9").custom_base_url is True


@pytest.mark.parametrize(
    ("question", "messages", "message"),
    [
        (None, ["hi"], "messages[0] must be a dict with 'role' and 'content'."),
        (
            None,
            [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}],
            "messages[1]: a system message may only come first.",
        ),
        (7, None, "The question must be a string, got int."),
        (
            None,
            [{"role": "user", "content": [{"text": 5}]}],
            "messages[0]: content parts must be {'text': '...'} dicts; only text is supported.",
        ),
        (
            None,
            [{"role": "user", "content": []}],
            "messages[0]: content must be a string or a list of text parts, got list.",
        ),
        (None, "hello", "messages must be a non-empty list of {'role': ..., 'content': ...} dicts."),
        (
            None,
            [{"role": "user", "content": [{"text": " "}]}],
            "The question is empty: ask something, e.g. 'What is 123 to the power of 21?'.",
        ),
        (
            None,
            [{"role": "user", "content": [{"text": "x" * (MAX_INPUT_CHARS - 1)}, {"text": "yz"}]}],
            f"The input is {MAX_INPUT_CHARS + 1:,} characters; the limit is {MAX_INPUT_CHARS:,}. Send less text "
            "(the interpreter cannot read files you attach here anyway).",
        ),
    ],
)
def test_messages_that_cannot_be_sent_are_refused_saying_which_and_why(
    question: object, messages: object, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_messages(question, messages)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_input_of_exactly_the_limit_is_sent_with_only_role_and_content() -> None:
    messages = [{"role": "user", "content": "x" * MAX_INPUT_CHARS, "name": "n"}]
    assert build_messages(None, messages) == [{"role": "user", "content": "x" * MAX_INPUT_CHARS}]


@pytest.mark.parametrize("variable", ["QWEN_CI_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"])
def test_a_bad_base_url_from_the_environment_names_its_variable_and_one_given_names_the_setting(variable: str) -> None:
    # audit 6's c02: the user must know which of the places to fix.
    with pytest.raises(ConfigurationError, match=f"Invalid {variable} 'not-a-url'"):
        resolve_settings(env={variable: "not-a-url"})
    with pytest.raises(ConfigurationError, match="Invalid base URL 'not-a-url'"):
        resolve_settings(env={variable: "https://dashscope.aliyuncs.com"}, base_url="not-a-url")
