"""What a model or a program reads about a failure or an unfinished answer, and the small types
under it (the error's repr, the key's wrapper): found by the mutation sweep (issue 26) as lines
no test read."""

from __future__ import annotations

import pickle

import pytest

from qwen_ci_tool import APIConnectionError, CodeInterpreterResult, ConfigurationError, Secret, Usage
from qwen_ci_tool._arguments import invalid_arguments
from qwen_ci_tool._explain import error_dict, incomplete_for_agent, incomplete_note
from qwen_ci_tool._knobs import PYTHON
from qwen_ci_tool.cli.flags import CLI

from ..conftest import PLANTED_KEY


def cut_off(answer: str = "42", reasoning: str = "") -> CodeInterpreterResult:
    return CodeInterpreterResult(
        answer=answer,
        reasoning=reasoning,
        code_runs=(),
        steps=(),
        usage=Usage(total_tokens=10),
        request_id="rid-0",
        model="qwen3-max",
        protocol="dashscope",
        finish_reason=None,
        status="incomplete",
    )


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


def test_an_argument_of_the_wrong_type_is_named_by_its_json_kind() -> None:
    err = invalid_arguments("ask", [{"type": "string_type", "loc": ("question",), "input": True}], {})
    assert "`question` is a boolean, the wrong type." in err.message


def test_the_key_wrapper_compares_only_with_another_key_and_is_never_shown_or_pickled() -> None:
    key = Secret(PLANTED_KEY)
    assert key == Secret(PLANTED_KEY) and key != Secret("sk-other") and key != PLANTED_KEY
    assert hash(key) == hash(Secret(PLANTED_KEY)) and len({key, Secret(PLANTED_KEY)}) == 1
    assert repr(key) == str(key) == "Secret('**********')"
    with pytest.raises(TypeError, match="Secret values cannot be pickled"):
        pickle.dumps(key)
