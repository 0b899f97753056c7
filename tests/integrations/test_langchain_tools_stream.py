"""LangGraph ``stream_mode="tools"``: the tool's progress as ``tool-output-delta`` events.

A real ``create_agent`` agent (a scripted chat model that calls the tool) against the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from langchain.agents import create_agent
from langchain_core.messages import ToolMessage

from qwen_ci_tool.testing import SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ._helpers import agent_input, make_tool, scripted_model

SEED_STAGES = ["connected", "thinking", "running code #1", "thinking", "answering", "done"]


def tool_events(parts: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [chunk for mode, chunk in parts if mode == "tools"]


def deltas_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["delta"] for e in events if e["event"] == "tool-output-delta"]


def what_a_ui_shows(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """Renders the deltas knowing only their documented shape: texts append, code runs replace."""
    shown: dict[str, Any] = {"stages": [], "reasoning": "", "answer": "", "code": {}, "errors": []}
    for delta in deltas:
        kind = delta["type"]
        if kind == "stage":
            shown["stages"].append(delta["stage"])
        elif kind in ("reasoning", "answer"):
            shown[kind] += delta["text"]
        elif kind == "code":
            shown["code"][delta["index"]] = (delta["code"], delta["output"])
        elif kind == "error":
            shown["errors"].append(delta)
        else:
            raise AssertionError(f"undocumented delta type {kind!r}")
    return shown


@pytest.mark.parametrize("protocol", ["dashscope", "responses"])
def test_between_tool_started_and_tool_finished_the_deltas_show_the_whole_call(
    emulator: Emulator, protocol: str
) -> None:
    agent = create_agent(scripted_model(TWO_RUN_QUESTION), tools=[make_tool(emulator, protocol=protocol)])

    parts = list(agent.stream(agent_input(TWO_RUN_QUESTION), stream_mode=["tools", "values"]))

    events = tool_events(parts)
    assert [events[0]["event"], events[-1]["event"]] == ["tool-started", "tool-finished"]
    assert {e["event"] for e in events[1:-1]} == {"tool-output-delta"}
    assert {e["tool_call_id"] for e in events} == {"call_1"}
    deltas = deltas_of(events)
    json.dumps(deltas)  # plain JSON, nothing a UI would need our types for
    artifact = events[-1]["output"].artifact
    shown = what_a_ui_shows(deltas)
    assert shown["stages"][0] == "connected" and shown["stages"][-1] == "done"
    assert "running code #1" in shown["stages"] and "running code #2" in shown["stages"]
    assert shown["reasoning"] == artifact["reasoning"]
    assert shown["answer"] == artifact["answer"]
    assert shown["code"] == {run["index"]: (run["code"], run["output"]) for run in artifact["code_runs"]}
    assert len(shown["code"]) == 2
    if protocol == "responses":  # the protocol that returns what the code printed
        assert all(output for _, output in shown["code"].values())
    assert shown["errors"] == []
    state = parts[-1][1]
    assert state["messages"][-1].content.startswith("The code interpreter says:")


def test_stage_deltas_carry_the_stage_event_payload_and_come_before_what_the_stage_shows(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    parts = list(agent.stream(agent_input(SEED_QUESTION), stream_mode=["tools", "custom"]))

    deltas = deltas_of(tool_events(parts))
    stage_deltas = [d for d in deltas if d["type"] == "stage"]
    custom = [chunk for mode, chunk in parts if mode == "custom"]
    assert [d["stage"] for d in stage_deltas] == SEED_STAGES
    assert [{k: v for k, v in d.items() if k != "type"} for d in stage_deltas] == [
        {k: v for k, v in c.items() if k != "type"} for c in custom
    ]
    first_code = next(i for i, d in enumerate(deltas) if d["type"] == "code")
    assert deltas[first_code - 1] == {**stage_deltas[2], "type": "stage"}
    assert stage_deltas[-1]["status"] == "completed"


async def test_an_async_agent_streams_the_same_deltas(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    with anyio.fail_after(10):
        parts = [part async for part in agent.astream(agent_input(SEED_QUESTION), stream_mode=["tools", "values"])]

    events = tool_events(parts)
    shown = what_a_ui_shows(deltas_of(events))
    assert shown["stages"] == SEED_STAGES
    assert shown["code"] == {0: ("123**21", None)}
    assert shown["answer"] == events[-1]["output"].artifact["answer"]


def test_without_the_tools_mode_the_call_is_unchanged(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    parts = list(agent.stream(agent_input(SEED_QUESTION), stream_mode=["custom", "values"]))

    assert {mode for mode, _ in parts} == {"custom", "values"}
    assert [chunk["stage"] for mode, chunk in parts if mode == "custom"] == SEED_STAGES
    tool_message = next(m for m in parts[-1][1]["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "success"


def test_a_failure_ends_the_deltas_with_an_error_and_finishes_with_an_error_message(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=5))
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    parts = list(agent.stream(agent_input(SEED_QUESTION), stream_mode=["tools", "values"]))

    events = tool_events(parts)
    deltas = deltas_of(events)
    assert deltas[-1]["type"] == "error"
    assert deltas[-1]["error"] == "StreamInterruptedError"
    assert deltas[-1]["retryable"] is True
    assert events[-1]["event"] == "tool-finished"
    assert events[-1]["output"].status == "error"
    assert events[-1]["output"].content == deltas[-1]["message"]
    assert what_a_ui_shows(deltas)["stages"][0] == "connected"  # what arrived before the break was shown


def test_a_rejected_key_is_an_error_delta_that_says_retrying_will_not_help(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401))
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    parts = list(agent.stream(agent_input(SEED_QUESTION), stream_mode=["tools", "values"]))

    deltas = deltas_of(tool_events(parts))
    assert [d["type"] for d in deltas] == ["error"]
    assert deltas[0]["error"] == "AuthenticationError"
    assert deltas[0]["retryable"] is False
