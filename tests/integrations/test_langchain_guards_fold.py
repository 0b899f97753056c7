"""Promises of the LangChain face's shared per-event logic and progress reporting
(integrations/_langchain_fold.py, _langchain_progress.py), each pinned by a test that fails when its
line breaks (found by the mutation sweep)."""

from __future__ import annotations

import dataclasses
import logging
import operator
from functools import reduce

import anyio
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import ToolException

from integrations._langchain_fold import DeltaFolder
from integrations.langchain import error_content
from qwen_ci_tool import AnswerDelta, Completed, ConfigurationError, QwenCIError, StreamStarted
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ..core.test_explain_guards import cut_off
from ._helpers import make_tool, tool_call
from .test_langchain_runnable import make_runnable

# --- what the model reads -------------------------------------------------------------------


def test_include_reasoning_also_puts_the_reasoning_in_an_unfinished_answers_error_message(emulator: Emulator) -> None:
    emulator.add_fault(Fault.finish_reason("length"), times=2)

    plain = make_tool(emulator).invoke(tool_call(SEED_QUESTION))
    reasoned = make_tool(emulator, include_reasoning=True).invoke(tool_call(SEED_QUESTION))

    assert plain.status == reasoned.status == "error"
    assert "## Reasoning" not in plain.content
    assert "## Reasoning" in reasoned.content and "finish reason: length" in reasoned.content


def test_include_reasoning_also_puts_what_arrived_of_the_reasoning_in_a_failed_calls_message(
    emulator: Emulator,
) -> None:
    emulator.add_fault(Fault.drop(after_events=50), times=2)

    plain = make_tool(emulator).invoke(tool_call(SEED_QUESTION))
    reasoned = make_tool(emulator, include_reasoning=True).invoke(tool_call(SEED_QUESTION))

    assert plain.status == reasoned.status == "error"
    assert "What arrived before the failure" in reasoned.content
    assert "## Reasoning" not in plain.content
    assert "## Reasoning" in reasoned.content


def test_a_failed_calls_message_names_the_tool_that_failed(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=5))

    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert message.content.startswith("The qwen_code_interpreter call failed (StreamInterruptedError)")


def test_the_middlewares_error_content_leaves_the_reasoning_out(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=50))

    with pytest.raises(QwenCIError) as caught:
        make_tool(emulator, raise_errors=True).invoke(tool_call(SEED_QUESTION))

    assert caught.value.partial is not None and caught.value.partial.reasoning
    text = error_content(caught.value)
    assert text is not None and "What arrived before the failure" in text and "## Reasoning" not in text


# --- what the Runnable accepts --------------------------------------------------------------


def test_a_single_message_is_asked_as_a_one_message_conversation(emulator: Emulator) -> None:
    output = make_runnable(emulator).invoke(HumanMessage(SEED_QUESTION))

    assert emulator.requests[-1].json["input"]["messages"] == [{"role": "user", "content": SEED_QUESTION}]
    assert SEED_ANSWER in output["answer"]


def test_an_unusable_input_is_refused_naming_its_type(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="a list of messages; got int"):
        make_runnable(emulator).invoke(42)  # type: ignore[arg-type]
    assert emulator.requests == []


def test_non_text_content_is_refused_naming_each_kind_it_holds(emulator: Emulator) -> None:
    mixed = HumanMessage(
        content=[
            {"type": "text", "text": "Look:"},
            {"type": "image", "url": "https://example.com/a.png"},
            {"type": "file", "url": "https://example.com/a.csv"},
            {"type": "image", "url": "https://example.com/b.png"},
        ]
    )

    with pytest.raises(ConfigurationError, match="a human message holds file, image content"):
        make_runnable(emulator).invoke([mixed])
    assert emulator.requests == []


def test_a_tool_message_is_refused_naming_its_role_and_why(emulator: Emulator) -> None:
    messages = [HumanMessage("Hi"), ToolMessage("42", tool_call_id="call_1"), HumanMessage(SEED_QUESTION)]

    with pytest.raises(ConfigurationError, match=r"has role 'tool'.*cannot be combined with function calling"):
        make_runnable(emulator).invoke(messages)
    assert emulator.requests == []


# --- what the stream sends, and when --------------------------------------------------------


def test_the_first_stream_delta_says_which_request_model_and_protocol_answer(emulator: Emulator) -> None:
    deltas = list(make_runnable(emulator, protocol="openai").stream(SEED_QUESTION))

    whole = reduce(operator.add, deltas)
    assert whole["request_id"] and whole["model"] and whole["protocol"] == "openai"
    assert deltas[0] == {key: whole[key] for key in ("request_id", "model", "protocol")}


def test_a_stream_that_adds_up_to_its_result_logs_no_warning_and_ends_with_only_what_is_new(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="integrations.langchain"):
        deltas = list(make_runnable(emulator).stream(TWO_RUN_QUESTION))

    assert sum("answer" in d for d in deltas) > 1 and len(reduce(operator.add, deltas)["code_runs"]) == 2
    assert caplog.records == []
    streamed = ("reasoning", "answer", "code_runs", "steps")
    assert not [key for key in streamed if key in deltas[-1] and not deltas[-1][key]], "only what is new"


def test_each_step_is_streamed_in_the_delta_that_closes_it_not_held_for_the_end(emulator: Emulator) -> None:
    deltas = list(make_runnable(emulator).stream(TWO_RUN_QUESTION))

    closing = [d for d in deltas[:-1] if "code_runs" in d]  # a code run closes with the step it ended
    assert len(closing) == 2
    assert [len(d.get("steps", [])) for d in closing] == [1, 1]


def test_a_request_id_known_only_at_the_end_reaches_the_sum() -> None:
    folder = DeltaFolder()
    late = dataclasses.replace(cut_off(), request_id="rid-late")
    deltas = [folder.feed(StreamStarted(None, "qwen3-max", "dashscope")), folder.feed(AnswerDelta(late.answer))]
    deltas.append(folder.feed(Completed(late)))

    whole = reduce(operator.add, [d for d in deltas if d is not None])
    assert whole["request_id"] == "rid-late"


# --- where the stages go --------------------------------------------------------------------


async def test_an_async_call_outside_any_run_or_graph_skips_the_stages_without_error(emulator: Emulator) -> None:
    with anyio.fail_after(10):
        content, artifact = await make_tool(emulator)._arun(SEED_QUESTION)

    assert SEED_ANSWER in content and artifact["status"] == "completed"


def test_an_unfinished_answer_outside_any_run_is_the_tools_exception(emulator: Emulator) -> None:
    emulator.add_fault(Fault.finish_reason("length"))

    with pytest.raises(ToolException, match="finish reason: length"):
        make_tool(emulator)._run(SEED_QUESTION)
