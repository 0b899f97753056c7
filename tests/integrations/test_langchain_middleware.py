"""The tool under LangChain's agent middleware: retries, call limits and error handling.

Real ``create_agent`` agents with a scripted chat model, against the emulator.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ToolCallLimitMiddleware, ToolErrorMiddleware, ToolRetryMiddleware
from langchain_core.messages import AIMessage, ToolMessage

import integrations.langchain as lc
from integrations.langchain import QwenCodeInterpreterTool, error_content, is_retryable
from qwen_ci_tool import AuthenticationError, RateLimitError, StreamInterruptedError
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from . import _helpers
from ._helpers import ScriptedToolModel, agent_input, scripted_model, tool_call


def make_tool(emulator: Emulator, **settings: Any) -> QwenCodeInterpreterTool:
    # The middleware retries here, not the core; failures are raised for the middleware to see.
    return _helpers.make_tool(emulator, **{"max_retries": 0, "raise_errors": True, **settings})


def retry(tool: QwenCodeInterpreterTool, **options: Any) -> ToolRetryMiddleware:
    # No backoff: the emulator answers at once, and tests do not sleep.
    return ToolRetryMiddleware(tools=[tool], retry_on=is_retryable, initial_delay=0.0, jitter=False, **options)


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


# --- raise_errors ------------------------------------------------------------------------------


def test_raise_errors_raises_the_core_error_with_retryable_and_partial(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=5))

    with pytest.raises(StreamInterruptedError) as caught:
        make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert caught.value.retryable is True
    assert caught.value.partial is not None


def test_is_retryable_follows_the_core_and_refuses_anything_else() -> None:
    assert is_retryable(RateLimitError("busy", status_code=429)) is True
    assert is_retryable(AuthenticationError("bad key", status_code=401)) is False
    assert is_retryable(ValueError("a bug")) is False


def test_error_content_is_the_tools_message_for_service_errors_and_none_for_bugs() -> None:
    assert error_content(AuthenticationError("bad key", status_code=401)) == lc.error_message(
        AuthenticationError("bad key", status_code=401)
    )
    assert error_content(ZeroDivisionError("a bug")) is None


# --- ToolRetryMiddleware -----------------------------------------------------------------------


def test_retry_middleware_calls_again_after_a_transient_failure_and_the_agent_gets_the_answer(
    emulator: Emulator,
) -> None:
    emulator.add_fault(Fault.status(503))
    tool = make_tool(emulator)
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=[retry(tool, max_retries=2)])

    state = agent.invoke(agent_input())

    [message] = tool_messages(state)
    assert message.status == "success"
    assert message.artifact["answer"].strip().endswith(SEED_ANSWER)
    assert len(emulator.requests) == 2
    assert SEED_ANSWER in state["messages"][-1].content


async def test_retry_middleware_retries_a_stream_broken_midway_in_an_async_agent(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=5))  # after the first event: the core itself never retries this
    tool = make_tool(emulator)
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=[retry(tool, max_retries=1)])

    with anyio.fail_after(10):
        state = await agent.ainvoke(agent_input())

    [message] = tool_messages(state)
    assert message.status == "success"
    assert len(emulator.requests) == 2


def test_retry_middleware_does_not_retry_a_rejected_key(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401), times=3)
    tool = make_tool(emulator)
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=[retry(tool, max_retries=2)])

    with pytest.raises(AuthenticationError):
        agent.invoke(agent_input())

    assert len(emulator.requests) == 1


def test_when_retries_run_out_the_error_middleware_reports_the_last_failure_in_the_tools_words(
    emulator: Emulator,
) -> None:
    emulator.add_fault(Fault.status(429, retry_after="0"), times=3)
    tool = make_tool(emulator)
    middleware = [ToolErrorMiddleware(error_content, tools=[tool]), retry(tool, max_retries=2, on_failure="error")]
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=middleware)

    state = agent.invoke(agent_input())

    [message] = tool_messages(state)
    assert message.status == "error"
    assert "RateLimitError" in message.content
    assert len(emulator.requests) == 3
    assert message.content in state["messages"][-1].content  # the agent went on; the model saw it


# --- ToolErrorMiddleware -----------------------------------------------------------------------


def test_error_middleware_turns_a_service_failure_into_an_error_message(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401))
    tool = make_tool(emulator)
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=[ToolErrorMiddleware(error_content)])

    state = agent.invoke(agent_input())

    [message] = tool_messages(state)
    assert message.status == "error"
    assert "AuthenticationError" in message.content
    assert "Check the API key in the api_key= argument" in message.content


def test_error_middleware_lets_a_bug_propagate(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def __init__(self, **settings: Any) -> None:
            raise ZeroDivisionError("a bug, not a service failure")

    tool = make_tool(emulator)
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=[ToolErrorMiddleware(error_content)])
    monkeypatch.setattr(lc, "CodeInterpreter", Broken)

    with pytest.raises(ZeroDivisionError):
        agent.invoke(agent_input())


def test_a_failure_raised_for_middleware_shows_as_tool_error_in_the_tools_stream(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401))
    tool = make_tool(emulator)
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[tool], middleware=[ToolErrorMiddleware(error_content)])

    parts = list(agent.stream(agent_input(), stream_mode=["tools", "values"]))

    events = [chunk for mode, chunk in parts if mode == "tools"]
    assert [e["event"] for e in events] == ["tool-started", "tool-output-delta", "tool-error"]
    assert events[1]["delta"]["type"] == "error"
    assert "Check the API key in the api_key= argument" in events[2]["message"]


# --- ToolCallLimitMiddleware -------------------------------------------------------------------


def test_call_limit_middleware_stops_calls_beyond_the_limit_before_they_reach_the_service(
    emulator: Emulator,
) -> None:
    tool = make_tool(emulator)
    calls = [tool_call(SEED_QUESTION, "call_1"), tool_call(SEED_QUESTION, "call_2")]
    model = ScriptedToolModel(responses=[AIMessage(content="", tool_calls=calls)])
    agent = create_agent(model, tools=[tool], middleware=[ToolCallLimitMiddleware(tool_name=tool.name, run_limit=1)])

    state = agent.invoke(agent_input())

    by_id = {m.tool_call_id: m for m in tool_messages(state)}
    assert by_id["call_1"].status == "success"
    assert by_id["call_2"].status == "error"
    assert "limit" in by_id["call_2"].content
    assert len(emulator.requests) == 1
