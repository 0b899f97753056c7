"""Promises of integrations/langchain.py's tool and Runnable left unguarded by the first sweep: the key a
tool holds, closing its connections, BaseTool's own calling conventions, questions streamed in pieces.
Each test fails when its line breaks (found by the mutation sweep)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from integrations.langchain import QwenCodeInterpreterTool
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ._helpers import make_tool, tool_call
from .test_langchain_runnable import make_runnable
from .test_langchain_tool import StageRecorder

# --- the key --------------------------------------------------------------------------------


def _sent_key(emulator: Emulator) -> str:
    headers = {name.lower(): value for name, value in emulator.requests[-1].headers.items()}
    return headers["authorization"]


def test_a_key_read_from_the_environment_stays_the_tools_key_when_the_variable_changes_later(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-first")
    tool = QwenCodeInterpreterTool(base_url=emulator.base_url, total_timeout=20.0)

    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-second")
    assert tool.invoke(tool_call(SEED_QUESTION)).status == "success"
    assert _sent_key(emulator) == "Bearer sk-first"

    monkeypatch.delenv("DASHSCOPE_API_KEY")
    assert tool.invoke(tool_call(SEED_QUESTION)).status == "success"
    assert _sent_key(emulator) == "Bearer sk-first"


def test_an_unfinished_answer_with_a_key_exported_after_construction_is_an_error_message(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = make_tool(emulator, api_key=None)  # no key yet: the core reads the variable when the call starts
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-later")
    emulator.add_fault(Fault.finish_reason("length"))

    message = tool.invoke(tool_call(SEED_QUESTION))

    assert message.status == "error" and "finish reason: length" in message.content
    assert _sent_key(emulator) == "Bearer sk-later"


# --- closing ----------------------------------------------------------------------------------


async def test_aclose_closes_the_connection_this_event_loops_calls_kept_open(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    with anyio.fail_after(20):
        assert (await tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"
        assert emulator.active_connections == 1
        await tool.aclose()
    assert await anyio.to_thread.run_sync(emulator.wait_for_connections, 0, 5.0)


async def test_aclose_after_only_sync_calls_closes_their_connection(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    with anyio.fail_after(20):
        message = await anyio.to_thread.run_sync(tool.invoke, tool_call(SEED_QUESTION))
        assert message.status == "success" and emulator.active_connections == 1
        await tool.aclose()
    assert await anyio.to_thread.run_sync(emulator.wait_for_connections, 0, 5.0)


# --- BaseTool's calling conventions -----------------------------------------------------------


def test_run_takes_base_tools_positional_arguments(emulator: Emulator) -> None:
    recorder = StageRecorder()

    # BaseTool.run(tool_input, verbose, start_color, color, callbacks)
    content = make_tool(emulator).run({"question": SEED_QUESTION}, False, "green", "green", [recorder])

    assert SEED_ANSWER in content
    assert [data["stage"] for _, data, _ in recorder.events][-1] == "done"


async def test_arun_takes_base_tools_positional_arguments(emulator: Emulator) -> None:
    recorder = StageRecorder()

    with anyio.fail_after(20):
        content = await make_tool(emulator).arun({"question": SEED_QUESTION}, False, "green", "green", [recorder])

    assert SEED_ANSWER in content
    assert [data["stage"] for _, data, _ in recorder.events][-1] == "done"


# --- the Runnable's input -----------------------------------------------------------------


async def test_a_question_streamed_in_pieces_from_upstream_is_asked_whole_by_atransform(emulator: Emulator) -> None:
    middle = len(SEED_QUESTION) // 2

    async def pieces() -> AsyncIterator[str]:
        yield SEED_QUESTION[:middle]
        yield SEED_QUESTION[middle:]

    with anyio.fail_after(20):
        deltas = [delta async for delta in make_runnable(emulator).atransform(pieces())]

    assert emulator.requests[-1].json["input"]["messages"] == [{"role": "user", "content": SEED_QUESTION}]
    assert SEED_ANSWER in "".join(d.get("answer", "") for d in deltas)
