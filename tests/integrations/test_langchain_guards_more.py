"""Promises of the LangChain face that only the sweep's other kinds of break reached (a clause of an
``and``/``or`` dropped, a condition forced either way): each test fails when its clause breaks."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from integrations._langchain_fold import DeltaFolder, ToolDeltas
from integrations.langchain import CodeInterpreterRunnable, QwenCodeInterpreterTool
from qwen_ci_tool import AnswerDelta, CodeRunUpdated, StreamEvent, StreamStarted
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ._helpers import make_tool, tool_call
from .test_langchain_fold import actions, core_events, fold_deltas
from .test_langchain_runnable import make_runnable
from .test_langchain_tool import StageRecorder

# --- what the model and the developer read --------------------------------------------------


def test_the_model_reads_what_the_question_argument_must_hold() -> None:
    schema = convert_to_openai_tool(QwenCodeInterpreterTool(api_key="sk-test"))["function"]

    question = schema["parameters"]["properties"]["question"]
    assert question["description"].startswith("The task in plain language, complete with every number or piece of data")
    assert "Not code: the interpreter writes its own." in question["description"]


@pytest.mark.parametrize("face", [QwenCodeInterpreterTool, CodeInterpreterRunnable])
def test_every_option_a_developer_sets_is_described_in_the_schema(face: type[Any]) -> None:
    fields = face.model_fields
    options = ["api_key", "base_url", "region", "protocol", "model", "connect_timeout", "idle_timeout"]
    options += ["total_timeout", "max_retries"]
    if face is QwenCodeInterpreterTool:
        options += ["include_reasoning", "raise_errors"]

    assert {name: bool(fields[name].description) for name in options} == dict.fromkeys(options, True)
    assert fields["api_key"].description == "DashScope API key; default: the DASHSCOPE_API_KEY environment variable."
    assert fields["idle_timeout"].description == SETTINGS["idle_timeout"].help


def test_the_tools_own_options_say_what_they_change() -> None:
    fields = QwenCodeInterpreterTool.model_fields

    assert fields["include_reasoning"].description == "Also put the model's reasoning in the content the agent reads."
    assert fields["raise_errors"].description is not None
    for part in ("Raise the core's QwenCIError", "ToolRetryMiddleware(retry_on=is_retryable)", "ToolErrorMiddleware"):
        assert part in fields["raise_errors"].description, part


# --- the tool ---------------------------------------------------------------------------------


def test_an_unfinished_answer_asked_with_plain_arguments_returns_its_error_text(emulator: Emulator) -> None:
    # Plain arguments: LangChain returns the content alone (a string), which carries no artifact.
    emulator.add_fault(Fault.finish_reason("length"))
    tool = QwenCodeInterpreterTool(api_key="sk-test", base_url=emulator.base_url, total_timeout=20.0)

    content = tool.invoke({"question": SEED_QUESTION})

    assert isinstance(content, str) and "finish reason: length" in content


def test_a_tool_made_before_any_key_was_set_uses_the_key_exported_before_the_call(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = QwenCodeInterpreterTool(base_url=emulator.base_url, total_timeout=20.0)  # no key given, none exported
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-exported-later")

    message = tool.invoke(tool_call(SEED_QUESTION))

    assert message.status == "success"
    headers = {name.lower(): value for name, value in emulator.requests[-1].headers.items()}
    assert headers["authorization"] == "Bearer sk-exported-later"


# A finished loop's sockets are closed by the collector, with a ResourceWarning whose record (kept by pytest)
# would hold the loop alive.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_tool_awaited_from_one_event_loop_after_another_keeps_no_finished_loop_alive(emulator: Emulator) -> None:
    # asyncio.run() once per request (a script, a notebook cell): each finished loop must be freed, and
    # the connections of its client with it; only the loop of the last call may still be held.
    tool = QwenCodeInterpreterTool(api_key="sk-test", base_url=emulator.base_url, total_timeout=20.0)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def call() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        assert (await tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"

    for _ in range(3):
        asyncio.run(call())
    gc.collect()

    assert [ref() is None for ref in loops[:-1]] == [True, True]


def test_each_stage_reaches_callbacks_as_the_custom_event_the_readme_names(emulator: Emulator) -> None:
    recorder = StageRecorder()

    make_tool(emulator).invoke(tool_call(SEED_QUESTION), config={"callbacks": [recorder]})

    assert {name for name, _, _ in recorder.events} == {"qwen_code_interpreter_stage"}


# --- what the Runnable accepts ----------------------------------------------------------------


def test_an_earlier_answer_in_a_conversation_is_sent_as_the_assistants(emulator: Emulator) -> None:
    conversation = [HumanMessage("What is 2 + 2?"), AIMessage("4"), HumanMessage(SEED_QUESTION)]

    make_runnable(emulator).invoke(conversation)

    assert [m["role"] for m in emulator.requests[-1].json["input"]["messages"]] == ["user", "assistant", "user"]


def test_a_message_whose_content_mixes_plain_strings_and_text_blocks_is_asked_as_its_text(
    emulator: Emulator,
) -> None:
    message = HumanMessage(content=["What is 123 ", {"type": "text", "text": "to the power of 21?"}])

    output = make_runnable(emulator).invoke([message])

    assert emulator.requests[-1].json["input"]["messages"] == [{"role": "user", "content": SEED_QUESTION}]
    assert SEED_ANSWER in output["answer"]


# --- LangGraph's tools stream -----------------------------------------------------------------


def test_tool_deltas_send_a_code_run_whose_output_arrived_before_any_code() -> None:
    # A Responses code item can finish with its logs and no code: the run is kept in the result, so
    # the stream shows it too.
    deltas = ToolDeltas()
    deltas.feed(StreamStarted("req-1", "qwen3-max", "responses"))

    _, sent = deltas.feed(CodeRunUpdated(0, "", "42\n", is_new=True))

    assert {"type": "code", "index": 0, "code": "", "output": "42\n"} in sent


def test_tool_deltas_skip_an_empty_answer_piece() -> None:
    deltas = ToolDeltas()
    deltas.feed(StreamStarted("req-1", "qwen3-max", "dashscope"))
    deltas.feed(AnswerDelta("The answer"))

    _, sent = deltas.feed(AnswerDelta(""))

    assert sent == []


# --- the Runnable's stream --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(actions)
def test_every_streamed_delta_carries_something_and_no_text_piece_is_empty(script: list[tuple[Any, ...]]) -> None:
    deltas, _ = fold_deltas(core_events(script))

    assert all(deltas)
    # The last delta (the call's end) sends each key not streamed yet whole, an empty answer included.
    assert all(delta[key] for delta in deltas[:-1] for key in ("reasoning", "answer") if key in delta)


def test_an_event_that_adds_nothing_yields_no_delta() -> None:
    folder = DeltaFolder()
    events: list[StreamEvent] = [StreamStarted("req-1", "qwen3-max", "dashscope"), AnswerDelta("")]

    assert [folder.feed(event) for event in events][1:] == [None]
