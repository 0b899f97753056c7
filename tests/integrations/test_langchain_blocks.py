"""The tool's artifact carries each code run as langchain-core's standard ``server_tool_call`` /
``server_tool_result`` blocks; the content the model reads stays plain text, which langchain-openai's
message converters pass on unchanged."""

from __future__ import annotations

import anyio
from langchain.agents import create_agent
from langchain_core.messages import ToolMessage
from langchain_openai.chat_models.base import _construct_responses_api_input, _convert_message_to_dict
from opentelemetry import trace

from integrations.langchain import code_run_blocks
from qwen_ci_tool import CodeInterpreterResult, CodeRun, Usage
from qwen_ci_tool.testing import SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from ..otel import Otel, assert_no_key
from ._helpers import agent_input, make_tool, scripted_model, tool_call


def test_each_code_run_is_a_server_tool_call_and_its_result_in_the_artifact(emulator: Emulator) -> None:
    message = make_tool(emulator).invoke(tool_call(TWO_RUN_QUESTION))

    assert isinstance(message, ToolMessage) and message.status == "success"
    runs = message.artifact["code_runs"]
    blocks = message.artifact["content_blocks"]
    calls, results = blocks[0::2], blocks[1::2]
    assert [b["type"] for b in calls] == ["server_tool_call"] * len(runs) == ["server_tool_call"] * 2
    assert [b["name"] for b in calls] == ["code_interpreter", "code_interpreter"]
    assert [b["args"] for b in calls] == [{"code": run["code"]} for run in runs]
    assert [b["type"] for b in results] == ["server_tool_result"] * 2
    assert [b["tool_call_id"] for b in results] == [b["id"] for b in calls]
    assert len({b["id"] for b in calls}) == 2 and all(message.artifact["request_id"] in b["id"] for b in calls)
    assert [b["status"] for b in results] == ["success", "success"]


def test_the_result_block_carries_the_output_where_the_protocol_returns_it(emulator: Emulator) -> None:
    message = make_tool(emulator, protocol="responses").invoke(tool_call(SEED_QUESTION))

    (run,) = message.artifact["code_runs"]
    assert run["output"] and message.artifact["content_blocks"][1]["output"] == run["output"]


def test_the_content_for_the_model_stays_plain_text(emulator: Emulator) -> None:
    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert isinstance(message.content, str) and "server_tool" not in message.content


def test_langchain_openai_converts_the_tool_message_unchanged(emulator: Emulator) -> None:
    message = make_tool(emulator).invoke(tool_call(SEED_QUESTION))

    assert _convert_message_to_dict(message) == {"role": "tool", "content": message.content, "tool_call_id": "call_1"}
    assert _construct_responses_api_input([message]) == [
        {"type": "function_call_output", "output": message.content, "call_id": "call_1"}
    ]


def test_a_run_cut_off_before_any_answer_is_an_error_result_in_the_error_messages_artifact(
    emulator: Emulator,
) -> None:
    emulator.add_fault(Fault.drop(after_events=30))  # after the code, before the answer
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator)])

    messages = agent.invoke(agent_input())["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    assert tool_message.status == "error"
    assert tool_message.artifact["answer"] == "" and tool_message.artifact["code_runs"]
    assert tool_message.artifact["content_blocks"][-1]["status"] == "error"


def test_a_run_whose_output_shows_a_traceback_is_an_error_result() -> None:
    result = CodeInterpreterResult(
        answer="It failed, then worked.",
        reasoning="",
        code_runs=(
            CodeRun(0, "1/0", "Traceback (most recent call last):\nZeroDivisionError: division by zero"),
            CodeRun(1, "1/1", "1.0"),
        ),
        steps=(),
        usage=Usage(),
        request_id=None,
        model="qwen3-max",
        protocol="responses",
        finish_reason="stop",
        status="completed",
    )
    blocks = code_run_blocks(result)
    assert [b["status"] for b in blocks[1::2]] == ["error", "success"]
    assert [b["id"] for b in blocks[0::2]] == ["code-0", "code-1"]


async def test_inside_an_agent_graph_the_call_span_is_a_child_of_the_applications_span(
    emulator: Emulator, otel: Otel
) -> None:
    agent = create_agent(scripted_model(SEED_QUESTION), tools=[make_tool(emulator, api_key=PLANTED_KEY)])
    with anyio.fail_after(20), trace.get_tracer("app").start_as_current_span("agent run") as parent:
        messages = (await agent.ainvoke(agent_input()))["messages"]

    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    span = otel.call_span()
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes is not None and span.attributes["gen_ai.response.id"] == tool_message.artifact["request_id"]
    assert_no_key(otel.finished())
