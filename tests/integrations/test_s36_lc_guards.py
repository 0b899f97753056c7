"""Quiet promises of the LangChain face that no test held (session 36's hand sweep): closing what a
call or a stream opened, and the tool's name in the middleware's error text. Each test fails when
its line breaks (checked once on purpose)."""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import HumanMessage

from integrations import _langchain_progress
from integrations._langchain_fold import core_input
from integrations.langchain import CodeInterpreterRunnable, QwenCodeInterpreterTool, code_run_blocks, error_content
from qwen_ci_tool import CodeInterpreterResult, CodeRun, ConfigurationError, QwenCIError, Usage
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ._helpers import make_tool, tool_call
from .test_langchain_runnable import make_runnable

# --- closing the clients ------------------------------------------------------------------------


def test_close_lets_the_next_call_open_a_new_client(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    assert tool.invoke(tool_call(SEED_QUESTION)).status == "success"

    tool.close()

    assert tool._clients._sync is None  # the closed client is let go, not kept for the next call
    assert tool.invoke(tool_call(SEED_QUESTION)).status == "success"


async def test_aclose_lets_go_of_this_event_loops_client(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    with anyio.fail_after(20):
        assert (await tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"
        await tool.aclose()

        assert len(tool._clients._async) == 0  # no entry left for this loop (nor its closed client)
        assert (await tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"


# --- closing a stream left early ----------------------------------------------------------------


class _Ends(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    async def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        self.errors.append(error)


async def test_closing_astream_early_closes_the_call_before_aclose_returns(emulator: Emulator) -> None:
    ends = _Ends()
    chunks = make_runnable(emulator).astream(SEED_QUESTION, {"callbacks": [ends]})
    with anyio.fail_after(20):
        assert await anext(chunks)
        await chunks.aclose()

    # Closed now, not whenever the event loop's finalizer gets to the inner generators.
    assert [type(error) for error in ends.errors] == [GeneratorExit]


async def test_closing_atransform_early_closes_the_call_before_aclose_returns(emulator: Emulator) -> None:
    async def one() -> Any:
        yield SEED_QUESTION

    ends = _Ends()
    chunks = make_runnable(emulator).atransform(one(), {"callbacks": [ends]})
    with anyio.fail_after(20):
        assert await anext(chunks)
        await chunks.aclose()

    assert [type(error) for error in ends.errors] == [GeneratorExit]


# --- the middleware's error text ----------------------------------------------------------------


def test_error_content_for_a_tool_call_with_an_empty_name_names_the_tool(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=5))
    with pytest.raises(QwenCIError) as caught:
        make_tool(emulator, raise_errors=True, max_retries=0).invoke(tool_call(SEED_QUESTION))

    text = error_content(caught.value, SimpleNamespace(tool_call={"name": ""}))

    assert text is not None and text.startswith("The qwen_code_interpreter call failed")


# --- one client per live event loop ---------------------------------------------------------------


def test_a_call_from_another_live_event_loop_keeps_the_first_loops_client(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"
        client = tool._clients._async[first][1]

        assert second.run_until_complete(tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"

        # The first loop is still open: its client (and its open connection) is kept, not thrown away.
        assert tool._clients._async[first][1] is client
        assert len(tool._clients._async) == 2
    finally:
        for loop in (first, second):
            loop.run_until_complete(tool.aclose())
            loop.close()


# --- a failed call's artifact is handed over, not kept ------------------------------------------


def test_a_failed_calls_artifact_is_not_kept_after_the_call(emulator: Emulator) -> None:
    emulator.add_fault(Fault.finish_reason("length"))

    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert message.status == "error" and message.artifact is not None
    # The hand-over box is gone with the call: nothing holds the result (or collects later failures).
    assert _langchain_progress._FAILED_ARTIFACT.get() is None


# --- an empty output is an output -----------------------------------------------------------------


def _cut_off_with_outputs(*outputs: str | None) -> CodeInterpreterResult:
    return CodeInterpreterResult(
        answer="",
        reasoning="",
        code_runs=tuple(CodeRun(i, f"x = {i}", output) for i, output in enumerate(outputs)),
        steps=(),
        usage=Usage(),
        request_id="rid-1",
        model="qwen3-max",
        protocol="responses",
        finish_reason=None,
        status="incomplete",
    )


def test_a_run_that_printed_nothing_keeps_its_empty_output_in_its_result_block() -> None:
    results = code_run_blocks(_cut_off_with_outputs("", ""))[1::2]

    assert [block.get("output") for block in results] == ["", ""]


def test_the_last_run_of_a_cut_off_call_whose_empty_output_arrived_is_a_success() -> None:
    # The output is known (empty, no traceback): the run finished, even if the call did not.
    results = code_run_blocks(_cut_off_with_outputs("", ""))[1::2]

    assert [block["status"] for block in results] == ["success", "success"]


# --- the settings the LangChain face offers -------------------------------------------------------


def test_settings_the_table_keeps_off_the_faces_are_no_fields_of_the_tool_or_the_runnable() -> None:
    hidden = [name for name, row in SETTINGS.items() if not row.face and name != "api_key"]

    assert hidden  # e.g. workspace, responses_path, extra_parameters
    for cls in (QwenCodeInterpreterTool, CodeInterpreterRunnable):
        assert [name for name in hidden if name in cls.model_fields] == []


# --- the refusal of non-text content reads the same every time ---------------------------------------


def test_the_kinds_of_non_text_content_are_named_in_alphabetical_order() -> None:
    kinds = ["video", "image", "file", "audio", "reasoning", "non_standard"]  # 720 orders: one is sorted
    message = HumanMessage(content=[{"type": kind} for kind in kinds])

    with pytest.raises(ConfigurationError) as refused:
        core_input([message])

    assert f"holds {', '.join(sorted(kinds))} content" in str(refused.value)


# --- without LangGraph ------------------------------------------------------------------------------


def test_the_tool_runs_where_langgraph_is_not_installed(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.config", None)  # `from langgraph.config import ...` fails

    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert message.status == "success"
