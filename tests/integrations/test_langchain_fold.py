"""The stream deltas add up to the result for any order of events the core can produce."""

from __future__ import annotations

import logging
import operator
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations._langchain_fold import DeltaFolder, StageEvents, ToolDeltas, result_dict
from qwen_ci_tool import (
    AnswerDelta,
    CodeInterpreterResult,
    CodeRunUpdated,
    Completed,
    ReasoningDelta,
    StreamEvent,
    StreamStarted,
    Timings,
    Usage,
    UsageUpdated,
)
from qwen_ci_tool._accumulator import Accumulator

text = st.text(alphabet="ab \n", max_size=4)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("reasoning"), text),
        st.tuples(st.just("answer"), text),
        st.tuples(st.just("new run"), text, st.none() | text),
        st.tuples(st.just("grow run"), text, st.none() | text),
        st.tuples(st.just("usage"), st.integers(0, 50)),
    ),
    max_size=30,
)


def core_events(script: list[tuple[Any, ...]]) -> list[StreamEvent]:
    """Events in an order the decoders produce: a run grows only while it is the latest event."""
    events: list[StreamEvent] = [StreamStarted("req-1", "qwen3-max", "dashscope")]
    index, code, open_run = -1, "", False
    for action, *args in script:
        if action in ("reasoning", "answer"):
            events.append(ReasoningDelta(args[0]) if action == "reasoning" else AnswerDelta(args[0]))
            open_run = False
        elif action == "usage":
            events.append(UsageUpdated(Usage(output_tokens=args[0], total_tokens=args[0])))
        elif action == "new run" or not open_run:
            index, code, open_run = index + 1, args[0], True
            events.append(CodeRunUpdated(index, code, args[1], is_new=True))
        else:
            code += args[0]
            events.append(CodeRunUpdated(index, code, args[1]))
    return events


def fold_deltas(events: list[StreamEvent]) -> tuple[list[dict[str, Any]], CodeInterpreterResult]:
    """The deltas a folder sends for *events* and the call's end, and the result they end in."""
    acc = Accumulator(model="qwen3-max", protocol="dashscope")
    for event in events:
        acc.apply(event)
    result = acc.build(finish_reason="stop", timings=Timings(0.1, 0.2))
    folder = DeltaFolder()
    return [d for d in (folder.feed(e) for e in [*events, Completed(result)]) if d is not None], result


def fold(events: list[StreamEvent]) -> tuple[dict[str, Any], dict[str, Any]]:
    deltas, result = fold_deltas(events)
    return reduce(operator.add, deltas), result_dict(result)


@settings(max_examples=300, deadline=None)
@given(actions)
def test_the_deltas_add_up_to_the_result_for_any_sequence_of_events(script: list[tuple[Any, ...]]) -> None:
    streamed, expected = fold(core_events(script))

    assert streamed == expected


def test_a_run_that_changes_after_it_was_streamed_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    events: list[StreamEvent] = [
        CodeRunUpdated(0, "1 +", is_new=True),
        ReasoningDelta("hm"),
        CodeRunUpdated(0, "1 + 1"),
    ]

    with caplog.at_level(logging.WARNING, logger="integrations.langchain"):
        streamed, expected = fold(events)

    assert expected["code_runs"][0]["code"] == "1 + 1"
    assert streamed["code_runs"][0]["code"] == "1 +"
    assert "code_runs" in caplog.text
    message = "streamed 'code_runs' differs from the final result; invoke() has the final value"
    assert message in [r.getMessage() for r in caplog.records]


def test_stage_payloads_number_each_change_of_stage_once() -> None:
    stages = StageEvents()
    events: list[StreamEvent] = [
        StreamStarted("req-1", "qwen3-max", "dashscope"),
        ReasoningDelta("a"),
        ReasoningDelta("b"),
        UsageUpdated(Usage()),
        CodeRunUpdated(0, "1", is_new=True),
        CodeRunUpdated(0, "1+1"),
        AnswerDelta("2"),
    ]

    payloads = [p for p in (stages.feed(e) for e in events) if p is not None]

    assert payloads == [
        {"stage": "connected", "step": 1, "request_id": "req-1"},
        {"stage": "thinking", "step": 2, "request_id": "req-1"},
        {"stage": "running code #1", "step": 3, "request_id": "req-1", "code_run": 0},
        {"stage": "answering", "step": 4, "request_id": "req-1"},
    ]


def test_tool_deltas_send_a_code_run_only_when_it_changed_and_skip_empty_text() -> None:
    deltas = ToolDeltas()
    events: list[StreamEvent] = [
        StreamStarted("req-1", "qwen3-max", "dashscope"),
        ReasoningDelta(""),
        CodeRunUpdated(0, "", is_new=True),
        CodeRunUpdated(0, "1+"),
        CodeRunUpdated(0, "1+"),
        CodeRunUpdated(0, "1+1"),
        CodeRunUpdated(0, "1+1", output="2"),
        AnswerDelta("2"),
    ]

    sent = [d for e in events for d in deltas.feed(e)[1]]

    assert sent == [
        {"type": "stage", "stage": "connected", "step": 1, "request_id": "req-1"},
        {"type": "stage", "stage": "thinking", "step": 2, "request_id": "req-1"},
        {"type": "stage", "stage": "running code #1", "step": 3, "request_id": "req-1", "code_run": 0},
        {"type": "code", "index": 0, "code": "1+", "output": None},
        {"type": "code", "index": 0, "code": "1+1", "output": None},
        {"type": "code", "index": 0, "code": "1+1", "output": "2"},
        {"type": "stage", "stage": "answering", "step": 4, "request_id": "req-1"},
        {"type": "answer", "text": "2"},
    ]
