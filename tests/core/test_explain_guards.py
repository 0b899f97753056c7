"""What a model or a program reads about a failure or an unfinished answer, and the small types
under it (the error's repr, the key's wrapper): found by the mutation sweep (issue 26) as lines
no test read."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from qwen_ci_tool import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    CodeInterpreterResult,
    ConfigurationError,
    Secret,
    StreamInterruptedError,
)
from qwen_ci_tool._arguments import invalid_arguments
from qwen_ci_tool._explain import error_dict, for_agent, incomplete_for_agent, incomplete_note
from qwen_ci_tool._knobs import PYTHON, flag, keyword
from qwen_ci_tool._proxy import proxy_variable, without_credentials
from qwen_ci_tool.cli.flags import CLI

from ..conftest import PLANTED_KEY
from .test_limiter import result


def cut_off(answer: str = "42", reasoning: str = "") -> CodeInterpreterResult:
    return dataclasses.replace(result("incomplete"), answer=answer, reasoning=reasoning, finish_reason=None)


def test_an_unfinished_answer_says_why_and_what_to_ask_instead() -> None:
    assert incomplete_note(cut_off()) == (
        "Qwen stopped before finishing (finish reason: none); the answer below may be cut off or missing. "
        "Ask for a shorter answer or split the task into smaller calls."
    )


def test_an_unfinished_answer_for_a_model_shows_reasoning_only_when_asked() -> None:
    result = cut_off(reasoning="Let me think")
    assert "Let me think" not in incomplete_for_agent(result)
    assert "## Reasoning\n\nLet me think" in incomplete_for_agent(result, include_reasoning=True)


@pytest.mark.parametrize("cap", [900, 1500])
def test_an_unfinished_answer_for_a_model_fits_its_cap_exactly(cap: int) -> None:
    text = incomplete_for_agent(cut_off(answer="x" * 5000), max_chars=cap)
    assert text.startswith(incomplete_note(cut_off())) and len(text) == cap


def test_an_error_as_data_words_it_for_the_face_and_keeps_its_fields() -> None:
    err = APIConnectionError("No data.", hint="Raise {idle_timeout}.", request_id="rid-9")
    assert error_dict(err, CLI) == {
        "type": "APIConnectionError",
        "message": "No data. Raise --idle-timeout. (request id: rid-9)",
        "request_id": "rid-9",
        "retryable": True,
        "status_code": None,
        "code": None,
    }


def test_anything_else_as_error_data_is_its_text_and_not_retryable() -> None:
    assert error_dict(ValueError("boom"), PYTHON) == {
        "type": "ValueError",
        "message": "boom",
        "request_id": None,
        "retryable": False,
        "status_code": None,
        "code": None,
    }


def test_an_errors_repr_names_its_class_message_and_request() -> None:
    assert repr(ConfigurationError("No key.")) == "ConfigurationError('No key.', request_id=None)"


@pytest.mark.parametrize("value", [True, False])  # false too: a boolean, not the number 0
def test_an_argument_of_the_wrong_type_is_named_by_its_json_kind(value: bool) -> None:
    err = invalid_arguments("ask", [{"type": "string_type", "loc": ("question",), "input": value}], {})
    assert "`question` is a boolean, the wrong type." in err.message


def test_the_key_wrapper_compares_only_with_another_key_and_is_never_shown_or_pickled() -> None:
    key = Secret(PLANTED_KEY)
    assert key == Secret(PLANTED_KEY) and key != Secret("sk-other") and key != PLANTED_KEY
    assert hash(key) == hash(Secret(PLANTED_KEY)) and len({key, Secret(PLANTED_KEY)}) == 1
    assert repr(key) == str(key) == "Secret('**********')"
    with pytest.raises(TypeError, match="Secret values cannot be pickled"):
        pickle.dumps(key)


def partly(reasoning: str = "Let me think") -> CodeInterpreterResult:
    return cut_off(answer="x" * 5000, reasoning=reasoning)


def test_a_failure_for_a_model_keeps_what_arrived_within_its_cap_and_reasoning_only_when_asked() -> None:
    err = StreamInterruptedError("The connection broke.", partial=partly())
    text = for_agent(err, PYTHON, tool="qwen_code_interpreter")
    assert (
        "\n\nWhat arrived before the failure is below. It is incomplete: do not present it as a verified answer.\n\n"
        in text
    )
    assert "Let me think" not in text
    assert "## Reasoning\n\nLet me think" in for_agent(err, PYTHON, tool="t", include_reasoning=True)
    for cap in (1200, 2000):
        assert cap - 2 <= len(for_agent(err, PYTHON, tool="t", max_chars=cap)) <= cap  # the cap, not much less


def test_an_error_says_its_message_alone_without_a_hint_and_its_request_id_once() -> None:
    plain = ConfigurationError("No key.")
    assert str(plain) == "No key." and plain.args == ("No key.",)
    assert str(ConfigurationError("No key.", request_id="rid-1")) == "No key. (request id: rid-1)"
    assert str(ConfigurationError("Failed (rid-1).", request_id="rid-1")) == "Failed (rid-1)."


def test_a_service_error_keeps_its_fields_and_masks_the_key_in_the_services_message() -> None:
    partial = cut_off()
    err = AuthenticationError(
        f"Refused {PLANTED_KEY}.",
        status_code=401,
        code="InvalidApiKey",
        service_message=f"bad key {PLANTED_KEY}",
        partial=partial,
    )
    assert err.partial is partial and err.service_message == f"bad key {PLANTED_KEY}"
    assert (
        repr(err)
        == f"AuthenticationError('Refused {PLANTED_KEY}.', status_code=401, code='InvalidApiKey', request_id=None)"
    )
    err._redact(Secret(PLANTED_KEY))
    assert err.service_message == "bad key **********" and err.message == "Refused **********."
    quiet = AuthenticationError("Refused.", status_code=401)
    quiet._redact(Secret(PLANTED_KEY))
    assert quiet.service_message is None


def test_a_timeout_keeps_its_request_partial_and_retryability() -> None:
    partial = cut_off()
    err = APITimeoutError("Idle.", kind="idle", request_id="rid-2", partial=partial, retryable=False)
    assert (err.kind, err.request_id, err.partial, err.retryable) == ("idle", "rid-2", partial, False)


def test_a_setting_without_a_value_is_spelt_as_its_name() -> None:
    assert keyword("idle_timeout") == "idle_timeout" and flag("idle_timeout") == "--idle-timeout"
    assert keyword("region", "us") == "region='us'" and keyword("idle_timeout", "600") == "idle_timeout=600"
    assert keyword("idle_timeout", "0.5") == "idle_timeout=0.5"  # a number of any kind is written bare


@pytest.mark.parametrize(
    ("error", "said"),
    [
        ({"type": "list_type", "loc": ("question",), "input": [1]}, "`question` is an array, the wrong type."),
        ({"type": "dict_type", "loc": ("question",), "input": {}}, "`question` is an object, the wrong type."),
        ({"type": "string_type", "loc": ("question",), "input": b"x"}, "`question` is bytes, the wrong type."),
        ({"type": "string_type", "loc": ("question",), "input": None}, "`question` is null, the wrong type."),
        (
            {"type": "string_unicode", "loc": ("question",)},
            "`question` is not valid text (a lone surrogate, what an undecodable byte becomes).",
        ),
        ({"type": "custom_rule", "loc": ("question",)}, "`question` was refused (custom_rule)."),
        ({"loc": ("question",)}, "`question` was refused ()."),
        ({"type": "missing", "loc": ()}, "`the arguments` is missing."),
        ({"type": "missing"}, "`the arguments` is missing."),
        ({"type": "missing", "loc": ("options", 0, "name")}, "`options.0.name` is missing: it must be a list."),
    ],
)
def test_each_invalid_argument_is_named_with_what_was_wrong(error: dict[str, object], said: str) -> None:
    err = invalid_arguments("ask", [error, {"type": "missing", "loc": ("extra",)}], {"options": "a list"})
    assert f"billed. {said} `extra` is missing. Fix: call ask again with" in err.message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("bob:pw@proxy:1080", "proxy:1080"),
        ("bob:p@ss@proxy:1080", "proxy:1080"),
        ("proxy:1080", "proxy:1080"),
        ("socks5://a:b@c@proxy:1080/x", "socks5://proxy:1080/x"),
        ("http://u:p@proxy:8080/?next=ftp://x@y", "http://proxy:8080/?next=ftp://x@y"),
    ],
)
def test_a_proxy_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert without_credentials(url) == shown


def test_the_socks_proxy_variable_is_found_whatever_the_case_of_its_scheme() -> None:
    env = {"ALL_PROXY": "http://a:1", "HTTPS_PROXY": "SOCKS5://b:2"}
    assert proxy_variable(env, scheme_prefix="socks") == ("HTTPS_PROXY", "SOCKS5://b:2")


def test_the_key_is_masked_wherever_it_occurs_and_an_empty_key_masks_nothing() -> None:
    assert Secret(PLANTED_KEY).redact(f"a {PLANTED_KEY} b {PLANTED_KEY}") == "a ********** b **********"
    assert Secret("").redact("abc") == "abc"
