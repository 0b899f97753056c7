"""Behaviours of the core's smaller modules that only the breaks mutmut does not make reached (a clause of an
``and``/``or`` dropped, a condition forced, a class-level default changed): issue 26, sweep round 3."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from qwen_ci_tool import APIConnectionError, CodeInterpreter, _telemetry
from qwen_ci_tool._explain import for_agent
from qwen_ci_tool._knobs import PYTHON
from qwen_ci_tool._proxy import new_client, proxy_variable
from qwen_ci_tool._stages import is_work_stage
from qwen_ci_tool._telemetry import output_messages
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


def test_a_failure_before_any_answer_or_code_shows_no_partial_result_to_the_model() -> None:
    # Reasoning alone is no result: the model is not told "what arrived is below" over an empty section.
    only_thought = dataclasses.replace(result("incomplete"), answer="  ", reasoning="Let me think", code_runs=())
    err = APIConnectionError("The connection broke.", partial=only_thought)
    text = for_agent(err, PYTHON, tool="qwen", include_reasoning=True)
    assert "What arrived before the failure" not in text and "Let me think" not in text


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
