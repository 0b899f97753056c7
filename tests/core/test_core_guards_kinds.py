"""Behaviours of the core's smaller modules that only the breaks mutmut does not make reached (a clause of an
``and``/``or`` dropped, a condition forced, a class-level default changed): issue 26, sweep round 3."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import httpx
import pytest

from integrations._langchain_fold import LANGCHAIN
from qwen_ci_tool import APIConnectionError, CodeInterpreter, CodeInterpreterResult, Secret, _telemetry
from qwen_ci_tool._errors import ErrorContext, missing_key_error, status_error
from qwen_ci_tool._explain import for_agent
from qwen_ci_tool._knobs import PYTHON
from qwen_ci_tool._model_table import lookup_model
from qwen_ci_tool._proxy import new_client, proxy_variable
from qwen_ci_tool._stages import is_work_stage
from qwen_ci_tool._telemetry import output_messages
from qwen_ci_tool._types import (
    AnswerDelta,
    CodeRun,
    CodeRunUpdated,
    ReasoningDelta,
    Step,
    StreamStarted,
    Timings,
    Usage,
    UsageUpdated,
)
from qwen_ci_tool.testing import Emulator
from tests.otel import Otel

from ..conftest import PLANTED_KEY
from .test_limiter import result

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_proxy_variable_set_but_blank_is_not_the_one_blamed() -> None:
    # httpx ignores an empty variable: a proxy failure comes from the next one, which the error must name.
    env = {"ALL_PROXY": "  ", "HTTPS_PROXY": "bogus://proxy:1"}
    assert proxy_variable(env) == ("HTTPS_PROXY", "bogus://proxy:1")


@pytest.mark.parametrize("stage", ["connected", "done", None])
def test_the_stages_that_frame_a_call_are_not_work_a_person_watches(stage: str | None) -> None:
    assert not is_work_stage(stage)


def test_thinking_running_code_and_answering_are_work_stages() -> None:
    assert all(is_work_stage(s) for s in ("thinking", "running code #1", "answering"))


def test_a_failure_before_any_answer_or_code_shows_no_partial_result_to_the_model_unless_it_asked_for_reasoning() -> (
    None
):
    # Reasoning alone is no result: without include_reasoning the model is not told "what arrived is
    # below" over an empty section. With it, the reasoning that arrived (and was billed) is shown.
    only_thought = dataclasses.replace(result("incomplete"), answer="  ", reasoning="Let me think", code_runs=())
    err = APIConnectionError("The connection broke.", partial=only_thought)
    text = for_agent(err, PYTHON, tool="qwen", include_reasoning=False)
    assert "What arrived before the failure" not in text and "Let me think" not in text
    text = for_agent(err, PYTHON, tool="qwen", include_reasoning=True)
    assert "What arrived before the failure is below. It is incomplete" in text and "Let me think" in text
    blank = dataclasses.replace(only_thought, reasoning=" \n")
    assert "What arrived" not in for_agent(
        APIConnectionError("The connection broke.", partial=blank), PYTHON, tool="qwen", include_reasoning=True
    )


def test_a_result_without_reasoning_or_answer_has_no_empty_parts_in_its_output_messages() -> None:
    empty = dataclasses.replace(result("incomplete"), answer="", reasoning="", code_runs=())
    assert output_messages(empty) == [{"role": "assistant", "parts": []}]


def test_a_result_with_answer_only_has_one_text_part() -> None:
    answered = dataclasses.replace(result("completed"), answer="42", reasoning="", code_runs=())
    assert output_messages(answered) == [{"role": "assistant", "parts": [{"type": "text", "content": "42"}]}]


def test_a_question_without_a_system_message_puts_no_system_instructions_on_the_span(
    emu: Emulator, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_telemetry.CAPTURE_CONTENT_ENV, "true")
    with CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as ci:
        ci.run("What is 6*7?")
    attrs = dict(otel.call_span().attributes or {})
    assert "gen_ai.system_instructions" not in attrs
    assert json.loads(str(attrs["gen_ai.input.messages"]))[0]["role"] == "user"


def test_a_proxy_value_error_with_no_proxy_variable_set_is_raised_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)

    # Nothing in the environment to blame: the error is httpx's own, not a ConfigurationError naming no variable.
    def factory(**options: object) -> httpx.Client:
        raise ValueError("Unknown scheme for proxy URL")

    with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
        new_client(factory)


def test_a_result_without_request_id_or_finish_reason_puts_neither_on_the_span() -> None:
    # The SDK keeps a None attribute: a span would claim an id or a finish reason of None.
    bare = dataclasses.replace(result("incomplete"), request_id=None, finish_reason=None)
    attrs = _telemetry._result_attributes(bare, capture=False)
    assert "gen_ai.response.id" not in attrs and "gen_ai.response.finish_reasons" not in attrs


_PUBLIC_DATA = [
    lambda: lookup_model("qwen3-max"),  # a row of the model table, shared by every client
    Usage,
    lambda: CodeRun(0, "print(1)"),
    lambda: Step("answer", "42"),
    Timings,
    lambda: StreamStarted("rid", "qwen3-max", "dashscope"),
    lambda: ReasoningDelta("hm"),
    lambda: CodeRunUpdated(0, "print(1)"),
    lambda: AnswerDelta("42"),
    lambda: UsageUpdated(Usage()),
]


@pytest.mark.parametrize("make", _PUBLIC_DATA)
def test_the_public_data_types_are_immutable_and_hashable(make: Callable[[], object]) -> None:
    value = make()
    field = dataclasses.fields(value)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, getattr(value, field))
    assert hash(value) == hash(make())


def test_a_secret_has_no_attribute_dict_that_vars_or_a_debugger_would_show_the_key_from() -> None:
    secret = Secret(PLANTED_KEY)
    with pytest.raises(TypeError):
        vars(secret)
    assert PLANTED_KEY not in repr(secret) and PLANTED_KEY not in str(secret)


def test_a_minimal_saved_result_reads_back_with_empty_usage_no_output_and_no_timings() -> None:
    # from_dict takes records that leave fields out (older versions, hand-written fixtures): each missing
    # field reads as "nothing known", never as a made-up count or an empty output.
    record = CodeInterpreterResult.from_dict(
        {
            "answer": "42",
            "code_runs": [{"index": 0, "code": "print(6*7)"}],
            "steps": [{"kind": "code", "text": "print(6*7)", "code_run": 0}, {"kind": "answer", "text": "42"}],
        }
    ).to_dict()
    assert record["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "total_tokens": 0,
        "code_interpreter_calls": 0,
    }
    assert record["code_runs"] == [{"index": 0, "code": "print(6*7)", "output": None, "container_id": None}]
    assert record["steps"][1] == {"kind": "answer", "text": "42", "code_run": None}
    assert record["timings"] == {"time_to_first_event": None, "total_time": 0.0}


def test_a_missing_key_told_to_a_langchain_user_has_no_emulator_sentence() -> None:
    # The LangChain face offers no emulator: its hint ends with where the key goes.
    assert (
        missing_key_error().describe(LANGCHAIN)
        == "No API key. Set api_key= (or DASHSCOPE_API_KEY) to a Model Studio key."
    )


def test_a_refused_key_given_as_an_argument_is_named_as_the_api_key_argument() -> None:
    ctx = ErrorContext(base_url="https://example.test", model="qwen3-max", protocol="openai")
    err = status_error(401, "InvalidApiKey", "Invalid key", context=dataclasses.replace(ctx, key_source="api_key"))
    assert "Check the API key in the api_key= argument." in err.describe(PYTHON)
