"""CodeInterpreterRunnable: invoke, batch and streams agree; inputs and errors behave as in the core."""

from __future__ import annotations

import operator
import re
from functools import reduce
from typing import Any

import anyio
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.utils import AddableDict

from integrations.langchain import CodeInterpreterRunnable
from qwen_ci_tool import AuthenticationError, CodeInterpreterResult, ConfigurationError
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

PROTOCOLS = ["dashscope", "openai", "responses"]
QUESTIONS = [SEED_QUESTION, TWO_RUN_QUESTION]


def make_runnable(emulator: Emulator, **settings: Any) -> CodeInterpreterRunnable:
    options: dict[str, Any] = {"api_key": "sk-test", "base_url": emulator.base_url, "total_timeout": 20.0}
    return CodeInterpreterRunnable(**{**options, **settings})


def without_timings(result: dict[str, Any]) -> dict[str, Any]:
    # Two calls never take the same time; everything else must match exactly.
    return {key: value for key, value in result.items() if key != "timings"}


def test_invoke_returns_the_result_dict_with_usage_metadata(emulator: Emulator) -> None:
    output = make_runnable(emulator).invoke(SEED_QUESTION)

    result = CodeInterpreterResult.from_dict(output)
    assert result.answer.strip().endswith(SEED_ANSWER)
    assert result.status == "completed"
    assert output == {**result.to_dict(), "usage_metadata": output["usage_metadata"]}
    assert output["usage_metadata"]["total_tokens"] == result.usage.total_tokens


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("question", QUESTIONS, ids=["one-run", "two-runs"])
def test_stream_deltas_add_up_to_the_invoke_output(emulator: Emulator, protocol: str, question: str) -> None:
    runnable = make_runnable(emulator, protocol=protocol)

    chunks = list(runnable.stream(question))

    assert all(isinstance(chunk, AddableDict) for chunk in chunks)
    assert len(chunks) > 3
    assert without_timings(reduce(operator.add, chunks)) == without_timings(runnable.invoke(question))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_astream_deltas_add_up_to_the_ainvoke_output(emulator: Emulator, protocol: str) -> None:
    runnable = make_runnable(emulator, protocol=protocol)

    with anyio.fail_after(10):
        chunks = [chunk async for chunk in runnable.astream(TWO_RUN_QUESTION)]
        expected = await runnable.ainvoke(TWO_RUN_QUESTION)

    assert without_timings(reduce(operator.add, chunks)) == without_timings(expected)


def test_stream_yields_the_stages_in_the_order_they_happened(emulator: Emulator) -> None:
    chunks = list(make_runnable(emulator).stream(TWO_RUN_QUESTION))

    def first(key: str) -> int:
        return next(i for i, chunk in enumerate(chunks) if key in chunk)

    assert set(chunks[0]) == {"request_id", "model", "protocol"}
    assert first("reasoning") < first("code_runs") < first("answer") < first("usage")
    runs = [run for chunk in chunks for run in chunk.get("code_runs", [])]
    assert [run["index"] for run in runs] == [0, 1]
    # the first run is streamed while the model is still working, not only at the end
    assert any("code_runs" in chunk and "reasoning" in chunk for chunk in chunks)
    assert "status" in chunks[-1]


def test_a_step_after_the_runnable_receives_the_whole_result_when_streaming(emulator: Emulator) -> None:
    chain = make_runnable(emulator) | RunnableLambda(lambda result: result["answer"])

    streamed = "".join(chain.stream(SEED_QUESTION))

    assert streamed == chain.invoke(SEED_QUESTION)
    assert streamed.strip().endswith(SEED_ANSWER)


def test_batch_answers_every_input_in_order(emulator: Emulator) -> None:
    outputs = make_runnable(emulator).batch([SEED_QUESTION, TWO_RUN_QUESTION], config={"max_concurrency": 2})

    assert [len(output["code_runs"]) for output in outputs] == [1, 2]


async def test_abatch_answers_every_input_in_order(emulator: Emulator) -> None:
    with anyio.fail_after(10):
        outputs = await make_runnable(emulator).abatch([TWO_RUN_QUESTION, SEED_QUESTION])

    assert [len(output["code_runs"]) for output in outputs] == [2, 1]


@pytest.mark.parametrize(
    "messages",
    [
        [SystemMessage("Be brief."), HumanMessage(SEED_QUESTION)],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": SEED_QUESTION}],
        [("system", "Be brief."), ("human", SEED_QUESTION)],
        ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")]).invoke({"q": SEED_QUESTION}),
    ],
    ids=["messages", "dicts", "tuples", "prompt-value"],
)
def test_message_lists_reach_the_service_as_role_and_content(emulator: Emulator, messages: Any) -> None:
    output = make_runnable(emulator).invoke(messages)

    sent = emulator.requests[-1].json["input"]["messages"]
    assert sent == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": SEED_QUESTION}]
    assert output["answer"].strip().endswith(SEED_ANSWER)


def test_a_prompt_chain_feeds_the_runnable(emulator: Emulator) -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{question}")]) | make_runnable(emulator)

    output = chain.invoke({"question": SEED_QUESTION})

    assert output["answer"].strip().endswith(SEED_ANSWER)


def test_the_tool_arguments_dict_is_accepted(emulator: Emulator) -> None:
    output = make_runnable(emulator).invoke({"question": SEED_QUESTION})

    assert output["code_runs"][0]["code"] == "123**21"


def test_non_text_content_is_refused_before_sending(emulator: Emulator) -> None:
    image = HumanMessage(content=[{"type": "image", "url": "https://example.com/a.png"}])

    with pytest.raises(ConfigurationError, match="text only"):
        make_runnable(emulator).invoke([image])
    assert emulator.requests == []


@pytest.mark.parametrize("value", [b"What is 2 + 2?", 42], ids=["bytes", "a number"])
def test_an_input_that_is_not_a_question_or_messages_is_refused_naming_what_to_pass(
    emulator: Emulator, value: object
) -> None:
    # Bytes are a sequence too: read as messages they would fail deep inside LangChain, unexplained.
    with pytest.raises(
        ConfigurationError, match=r"Pass a question string, \{'question': \.\.\.\}, or a list of messages; got"
    ):
        make_runnable(emulator).invoke(value)  # type: ignore[arg-type]
    assert emulator.requests == []


def test_service_errors_propagate_as_core_exceptions_from_invoke_and_stream(emulator: Emulator) -> None:
    emulator.add_fault(Fault.status(401), times=2)
    runnable = make_runnable(emulator)

    with pytest.raises(AuthenticationError):
        runnable.invoke(SEED_QUESTION)
    with pytest.raises(AuthenticationError):
        list(runnable.stream(SEED_QUESTION))


@pytest.mark.parametrize(
    ("given", "place"), [(True, "the api_key= argument"), (False, "DASHSCOPE_API_KEY (or pass api_key=)")]
)
def test_a_refused_key_is_named_where_it_came_from(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, given: bool, place: str
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    emulator.add_fault(Fault.status(401))
    runnable = CodeInterpreterRunnable(
        base_url=emulator.base_url, max_retries=0, **({"api_key": "sk-test"} if given else {})
    )

    with pytest.raises(AuthenticationError, match=rf"Check the API key in {re.escape(place)}\."):
        runnable.invoke(SEED_QUESTION)


async def test_astream_events_shows_each_delta_as_a_chain_stream_event(emulator: Emulator) -> None:
    runnable = make_runnable(emulator)

    with anyio.fail_after(10):
        events = [e async for e in runnable.astream_events(SEED_QUESTION, version="v2")]

    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream"]
    end = next(e for e in events if e["event"] == "on_chain_end")
    assert reduce(operator.add, streamed) == end["data"]["output"]
    assert end["data"]["output"]["answer"].strip().endswith(SEED_ANSWER)


async def test_leaving_astream_early_closes_the_upstream_connection(emulator: Emulator) -> None:
    runnable = make_runnable(emulator)

    with anyio.fail_after(10):
        stream = runnable.astream(SEED_QUESTION)
        async for chunk in stream:
            if "reasoning" in chunk:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        closed = await anyio.to_thread.run_sync(emulator.wait_for_connections, 0, 5.0)

    assert closed


def test_a_question_streamed_in_pieces_from_upstream_is_asked_whole(emulator: Emulator) -> None:
    # An upstream stream (e.g. a string output parser) hands the question over in chunks: they add up.
    middle = len(SEED_QUESTION) // 2
    pieces = [SEED_QUESTION[:middle], SEED_QUESTION[middle:]]

    folded = reduce(operator.add, make_runnable(emulator).transform(iter(pieces)))

    assert SEED_ANSWER in folded["answer"]
