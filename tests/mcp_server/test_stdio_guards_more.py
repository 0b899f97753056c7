"""stdio input that is JSON but no object, the last line of input, and a record with its answer in parts:
the breaks that drop one side of a condition there (issue 26, KINDS=more)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_server._fit import compact_record, expand_record
from mcp_server._stdio import _lines_of, _Output
from qwen_ci_tool import CodeInterpreterResult

from .test_transport_guards_stdio import REQUEST, answer, line, wire

pytestmark = pytest.mark.anyio


async def test_during_the_end_json_that_is_no_object_goes_on_to_the_sdk_instead_of_being_refused(
    make_server: Callable[..., MCPServer],
) -> None:
    not_objects = ['["id", "method"]\n', "7\n", '"id method"\n']
    async with wire(make_server()) as w:
        await w.feed(REQUEST)  # unanswered: holds the end open
        w.lines.stop()
        await w.feed(*not_objects)
        refusals = w.answers()
        await _Output(w.lines.write, w.lines.answered).send(answer(7))  # type: ignore[arg-type]
        w.end_of_input()
    w.lines.write.close()  # type: ignore[union-attr]

    assert refusals == []
    assert w.passed == [line(REQUEST), *not_objects]


async def test_json_that_is_no_object_with_a_lone_surrogate_is_dropped_without_an_answer(
    make_server: Callable[..., MCPServer],
) -> None:
    async with wire(make_server()) as w:
        await w.feed('["id", "method", "\\ud800"]\n', '"id method \\udc00"\n')
        replies = w.answers()
        w.end_of_input()
    w.lines.write.close()  # type: ignore[union-attr]

    assert replies == [] and w.passed == []


async def test_a_cancel_whose_params_are_no_object_goes_on_to_the_sdk(make_server: Callable[..., MCPServer]) -> None:
    cancel = '{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": [7]}\n'
    async with wire(make_server()) as w:
        await w.feed(cancel)
        w.end_of_input()
    w.lines.write.close()  # type: ignore[union-attr]
    assert w.passed == [cancel]


async def test_a_signal_with_nothing_in_flight_ends_the_input_while_stdin_is_still_open(
    make_server: Callable[..., MCPServer],
) -> None:
    async with wire(make_server()) as w:
        await w.feed(REQUEST)
        await _Output(w.lines.write, w.lines.answered).send(answer(7))  # type: ignore[arg-type]
        w.lines.stop()  # SIGTERM: no end of input comes
    w.lines.write.close()  # type: ignore[union-attr]
    assert w.passed == [line(REQUEST)]


def test_input_ending_with_a_newline_gives_no_empty_last_line(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = [b'{"a": 1}\n', b'{"b": 2}\n', b""]
    monkeypatch.setattr(os, "read", lambda fd, size: reads.pop(0))
    assert list(_lines_of(0)) == [b'{"a": 1}\n', b'{"b": 2}\n']


def test_an_answer_sent_in_parts_around_a_code_run_expands_back_exactly() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "It is 42.\nChecked: 6 * 7 = 42.",
            "reasoning": "Multiply.",
            "code_runs": [{"index": 0, "code": "print(6 * 7)", "output": "42\n", "container_id": None}],
            "steps": [
                {"kind": "reasoning", "text": "Multiply.", "code_run": None},
                {"kind": "answer", "text": "It is 42.", "code_run": None},
                {"kind": "code", "text": "print(6 * 7)", "code_run": 0},
                {"kind": "answer", "text": "\nChecked: 6 * 7 = 42.", "code_run": None},
            ],
            "status": "completed",
            "protocol": "responses",
        }
    )
    record = compact_record(result)
    assert json.loads(json.dumps(record)) == record
    assert expand_record(record) == result.to_dict()
