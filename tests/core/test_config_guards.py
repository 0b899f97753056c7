"""Settings read from the environment, word for word where a user acts on it: found by the
mutation sweep (issue 26) as lines no test read."""

from __future__ import annotations

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool._config import resolve_settings


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
