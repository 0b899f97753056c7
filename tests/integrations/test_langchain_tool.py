"""QwenCodeInterpreterTool: what an agent sees, what an application gets, and what never leaks."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import anyio
import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

import integrations.langchain as lc
from integrations.langchain import STAGE_EVENT, QwenCodeInterpreterTool
from qwen_ci_tool import CodeInterpreterResult, ConfigurationError
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from ._helpers import ScriptedToolModel, agent_input, make_tool, scripted_model, tool_call

SEED_STAGES = ["connected", "thinking", "running code #1", "thinking", "answering", "done"]


async def ask_async(emulator: Emulator, **options: Any) -> ToolMessage:
    """The seed question as one async tool call to a tool with these options, bounded."""
    with anyio.fail_after(10):
        message: ToolMessage = await make_tool(emulator, **options).ainvoke(tool_call(SEED_QUESTION))
    return message


class StageRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any, UUID]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


# --- what the model sees --------------------------------------------------------------------


def test_the_model_sees_one_question_argument_and_a_description_it_can_act_on() -> None:
    schema = convert_to_openai_tool(QwenCodeInterpreterTool(api_key="sk-test"))["function"]

    assert schema["name"] == "qwen_code_interpreter"
    assert list(schema["parameters"]["properties"]) == ["question"]
    assert schema["parameters"]["required"] == ["question"]
    description = schema["description"]
    for phrase in ("exact arithmetic", "data analysis", "real code", "slow", "billed", "not code", "between calls"):
        assert phrase in description, phrase


def test_a_tool_call_returns_answer_and_code_as_content_and_the_result_dict_as_artifact(emulator: Emulator) -> None:
    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    assert SEED_ANSWER in message.content
    assert "123**21" in message.content
    result = CodeInterpreterResult.from_dict(message.artifact)
    assert result.answer.strip().endswith(SEED_ANSWER)
    assert [run.code for run in result.code_runs] == ["123**21"]
    assert message.artifact == {
        **result.to_dict(),
        "usage_metadata": message.artifact["usage_metadata"],
        "content_blocks": message.artifact["content_blocks"],
    }


def test_the_artifact_carries_usage_in_langchain_usage_metadata_shape(emulator: Emulator) -> None:
    artifact = make_tool(emulator).invoke(tool_call(SEED_QUESTION)).artifact

    usage = artifact["usage"]
    assert artifact["usage_metadata"] == {
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
        "output_token_details": {"reasoning": usage["reasoning_tokens"]},
    }
    assert usage["total_tokens"] > 0


async def test_async_and_sync_calls_return_the_same_content_and_artifact(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    with anyio.fail_after(10):
        async_message = await tool.ainvoke(tool_call(TWO_RUN_QUESTION))
    sync_message = await anyio.to_thread.run_sync(tool.invoke, tool_call(TWO_RUN_QUESTION))

    assert async_message.content == sync_message.content
    for data in (async_message.artifact, sync_message.artifact):
        data.pop("timings")
    assert async_message.artifact == sync_message.artifact
    assert len(async_message.artifact["code_runs"]) == 2


def test_include_reasoning_puts_the_reasoning_in_the_content(emulator: Emulator) -> None:
    plain = make_tool(emulator).invoke(tool_call(SEED_QUESTION))
    reasoned = make_tool(emulator, include_reasoning=True).invoke(tool_call(SEED_QUESTION))

    assert "## Reasoning" not in plain.content
    assert "## Reasoning" in reasoned.content


def test_plain_arguments_return_the_content_only(emulator: Emulator) -> None:
    content = make_tool(emulator).invoke({"question": SEED_QUESTION})

    assert isinstance(content, str)
    assert SEED_ANSWER in content


def test_constructor_settings_reach_the_core_client(emulator: Emulator) -> None:
    tool = make_tool(emulator, protocol="responses", model="qwen3.5-plus")

    message = tool.invoke(tool_call(SEED_QUESTION))

    request = emulator.requests[-1]
    assert request.path.endswith("/responses")
    assert request.json["model"] == "qwen3.5-plus"
    assert message.artifact["protocol"] == "responses"
    assert message.artifact["code_runs"][0]["output"] is not None  # only Responses returns stdout


def test_bad_settings_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="region"):
        QwenCodeInterpreterTool(api_key="sk-test", region="mars")
    with pytest.raises(ConfigurationError, match="protocol"):
        QwenCodeInterpreterTool(api_key="sk-test", protocol="grpc")


# --- agents ---------------------------------------------------------------------------------


def test_an_agent_calls_the_tool_and_the_result_reaches_the_final_message(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    messages = agent.invoke(agent_input())["messages"]

    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1
    assert tool_messages[0].status == "success"
    assert tool_messages[0].artifact["code_runs"][0]["code"] == "123**21"
    assert isinstance(messages[-1], AIMessage)
    assert SEED_ANSWER in messages[-1].content
    assert len(emulator.requests) == 1
    assert emulator.requests[0].json["input"]["messages"][-1]["content"] == SEED_QUESTION


async def test_an_async_agent_calls_the_tool_and_the_result_reaches_the_final_message(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    with anyio.fail_after(10):
        messages = (await agent.ainvoke(agent_input()))["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.artifact["answer"].strip().endswith(SEED_ANSWER)
    assert SEED_ANSWER in messages[-1].content


# --- stage events ---------------------------------------------------------------------------


async def test_stages_arrive_as_custom_events_in_astream_events(emulator: Emulator) -> None:
    tool = make_tool(emulator)

    with anyio.fail_after(10):
        events = [e async for e in tool.astream_events(tool_call(SEED_QUESTION), version="v2")]

    tool_run = next(e["run_id"] for e in events if e["event"] == "on_tool_start")
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert {e["name"] for e in custom} == {STAGE_EVENT}
    assert [e["data"]["stage"] for e in custom] == SEED_STAGES
    assert [e["data"]["step"] for e in custom] == list(range(1, len(SEED_STAGES) + 1))
    assert {e["run_id"] for e in custom} == {tool_run}
    assert custom[2]["data"]["code_run"] == 0
    assert custom[-1]["data"]["status"] == "completed"
    assert events[-1]["event"] == "on_tool_end"


def test_a_sync_call_sends_its_stages_to_callback_handlers(emulator: Emulator) -> None:
    recorder = StageRecorder()

    make_tool(emulator).invoke(tool_call(TWO_RUN_QUESTION), config={"callbacks": [recorder]})

    stages = [data["stage"] for name, data, _ in recorder.events if name == STAGE_EVENT]
    assert "running code #1" in stages and "running code #2" in stages
    assert stages.index("running code #1") < stages.index("running code #2") < stages.index("answering")
    assert stages[-1] == "done"
    assert len({run_id for *_, run_id in recorder.events}) == 1


def test_inside_a_graph_the_stages_go_to_the_custom_stream(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    chunks = list(agent.stream(agent_input(), stream_mode="custom"))

    assert [c["stage"] for c in chunks] == SEED_STAGES
    assert {c["type"] for c in chunks} == {STAGE_EVENT}


async def test_inside_an_async_graph_the_stages_go_to_the_custom_stream(emulator: Emulator) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    with anyio.fail_after(10):
        parts = [part async for part in agent.astream(agent_input(), stream_mode=["custom", "updates"])]

    stages = [chunk["stage"] for mode, chunk in parts if mode == "custom"]
    assert stages == SEED_STAGES


def test_outside_any_run_or_graph_the_stages_are_skipped_without_error(emulator: Emulator) -> None:
    content, artifact = make_tool(emulator)._run(SEED_QUESTION)

    assert SEED_ANSWER in content
    assert artifact["status"] == "completed"


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [({"question": ""}, "is empty"), ({"question": 5}, "is a number, the wrong type"), ({}, "is missing")],
    ids=["empty", "number", "missing"],
)
def test_arguments_that_do_not_fit_the_schema_reach_the_agent_as_an_error_message_naming_the_argument_and_the_fix(
    emulator: Emulator, arguments: dict[str, Any], problem: str
) -> None:
    call = ToolCall(name="qwen_code_interpreter", args=arguments, id="call_1", type="tool_call")
    model = ScriptedToolModel(responses=[AIMessage(content="", tool_calls=[call])])
    agent = create_agent(model, tools=[make_tool(emulator)])

    messages = agent.invoke(agent_input())["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.status == "error"
    assert (
        f"`question` {problem}: it must be the task in natural language, as a non-empty string" in tool_message.content
    )
    assert "Fix: call qwen_code_interpreter again with `question` corrected." in tool_message.content
    assert "validation error" not in tool_message.content and "pydantic" not in tool_message.content
    assert tool_message.content in messages[-1].content  # the agent went on and the model saw it
    assert emulator.requests == []


def test_arguments_that_do_not_fit_the_schema_raise_the_core_error_with_raise_errors() -> None:
    tool = QwenCodeInterpreterTool(api_key="sk-test", raise_errors=True)

    with pytest.raises(ConfigurationError, match="`question` is empty") as caught:
        tool.invoke({"question": ""})
    assert not caught.value.retryable


def test_a_rejected_key_reaches_the_agent_as_an_error_message_without_the_key(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401))
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator, api_key=PLANTED_KEY)])

    messages = agent.invoke(agent_input())["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.status == "error"
    assert tool_message.artifact is None
    assert "AuthenticationError" in tool_message.content
    assert "Check the API key in the api_key= argument" in tool_message.content
    assert "Calling again: will not help" in tool_message.content
    assert tool_message.content in messages[-1].content  # the agent went on and the model saw it
    assert PLANTED_KEY not in json.dumps([m.model_dump() for m in messages], default=str)


def test_a_rejected_key_from_the_environment_is_named_as_the_variable(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    emulator.add_fault(Fault.status(401))
    tool = QwenCodeInterpreterTool(base_url=emulator.base_url, max_retries=0)

    message = tool.invoke(tool_call(SEED_QUESTION))

    assert message.status == "error"
    assert "Check the API key in api_key= (or DASHSCOPE_API_KEY)." in message.content
    assert PLANTED_KEY not in message.content


async def test_an_async_call_reports_rate_limiting_as_an_error_message_that_suggests_waiting(
    emulator: Emulator,
) -> None:
    emulator.add_fault(Fault.status(429, retry_after="0"), times=2)

    message = await ask_async(emulator, max_retries=1)

    assert message.status == "error"
    assert "RateLimitError" in message.content
    assert "retry" in message.content
    assert len(emulator.requests) == 2


def test_a_stream_broken_midway_is_an_error_message(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=5))

    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert message.status == "error"
    assert "StreamInterruptedError" in message.content


def test_what_arrived_before_a_drop_reaches_the_agent_in_the_error_messages_artifact(emulator: Emulator) -> None:
    emulator.add_fault(Fault.drop(after_events=50))
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    messages = agent.invoke(agent_input())["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.status == "error" and "What arrived before the failure" in tool_message.content
    partial = CodeInterpreterResult.from_dict(tool_message.artifact)
    assert partial.status == "incomplete" and partial.answer.startswith("123 to the power of 21 is:")
    assert [run.code for run in partial.code_runs] == ["123**21"]


async def test_an_answer_cut_by_the_length_limit_is_an_error_message_that_says_so_with_the_result(
    emulator: Emulator,
) -> None:
    emulator.add_fault(Fault.finish_reason("length"), times=2)
    tool = make_tool(emulator)

    for message in (tool.invoke(tool_call(SEED_QUESTION)), await tool.ainvoke(tool_call(SEED_QUESTION))):
        assert message.status == "error"
        assert "stopped before finishing (finish reason: length)" in message.content
        assert message.artifact["status"] == "incomplete" and message.artifact["answer"]


def test_an_unfinished_answer_that_echoes_the_key_reaches_the_agent_with_the_key_masked(emulator: Emulator) -> None:
    frame = {
        "output": {"choices": [{"message": {"content": f"Your key is {PLANTED_KEY}"}, "finish_reason": "length"}]},
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        "request_id": "rid-echo",
    }
    emulator.replay(f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(frame)}\n\n".encode())

    message = make_tool(emulator, api_key=PLANTED_KEY).invoke(tool_call("What is my key?"))

    assert message.status == "error" and "finish reason: length" in message.content
    assert "Your key is **********" in message.content and PLANTED_KEY not in message.content


async def test_a_silent_stream_hits_the_idle_timeout_and_is_an_error_message(emulator: Emulator) -> None:
    emulator.add_fault(Fault.stall(after_events=3, seconds=30))

    message = await ask_async(emulator, idle_timeout=0.2)

    assert message.status == "error"
    assert "APITimeoutError" in message.content
    assert "idle_timeout" in message.content


def test_a_missing_key_is_an_error_message_naming_the_variable(emulator: Emulator) -> None:
    message = make_tool(emulator, api_key=None).invoke(tool_call(SEED_QUESTION))

    assert message.status == "error"
    assert "DASHSCOPE_API_KEY" in message.content
    assert emulator.requests == []


def test_programming_errors_propagate_out_of_the_agent(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def __init__(self, **settings: Any) -> None:
            raise ZeroDivisionError("a bug, not a service failure")

    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])
    monkeypatch.setattr(lc, "CodeInterpreter", Broken)

    with pytest.raises(ZeroDivisionError):
        agent.invoke(agent_input())


# --- the key --------------------------------------------------------------------------------


def test_the_key_from_the_environment_is_a_secret_that_no_rendering_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)

    tool = QwenCodeInterpreterTool()

    assert tool.api_key is not None and tool.api_key.get_secret_value() == PLANTED_KEY
    assert tool.lc_secrets == {"api_key": "DASHSCOPE_API_KEY"}
    renderings = [
        repr(tool),
        str(tool),
        dumps(tool),
        json.dumps(dumpd(tool)),
        tool.model_dump_json(exclude={"args_schema"}),
        str(tool.model_dump()),
    ]
    for text in renderings:
        assert PLANTED_KEY not in text


# --- one core client per tool (sync) and per event loop (async) ------------------------------


def test_sync_calls_of_one_tool_share_one_connection(emulator: Emulator) -> None:
    tool = make_tool(emulator)
    for _ in range(3):
        assert tool.invoke(tool_call(SEED_QUESTION)).status == "success"
    assert len(emulator.requests) == 3
    assert emulator.active_connections == 1, "one kept-alive connection, reused: no handshake per call"
    tool.close()
    assert emulator.wait_for_connections(0, timeout=5)


async def test_async_calls_in_one_event_loop_share_one_connection_and_a_new_setting_gets_a_new_client(
    emulator: Emulator,
) -> None:
    tool = make_tool(emulator)
    with anyio.fail_after(20):
        for _ in range(2):
            assert (await tool.ainvoke(tool_call(SEED_QUESTION))).status == "success"
        assert emulator.active_connections == 1
        first = tool._aclient()
        tool.model = "qwen3-max-preview"
        assert tool._aclient() is not first and tool._aclient() is tool._aclient()
        await tool.aclose()
        await first.aclose()
    assert await anyio.to_thread.run_sync(emulator.wait_for_connections, 0, 5.0)
