"""The stdio input's rules, in process (``_stdio._Input`` fed lines, its answers collected).

The same rules are shown end to end on server processes in test_lifecycle.py and test_drain.py;
here each one is pinned where a break shows at once: the end waits for the requests read before
(not for notifications, responses or cancelled requests), requests during the end are refused
with -32000 while everything else goes on to the SDK, unreadable lines are answered or dropped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage

from mcp_server._stdio import _has_lone_surrogate, _Input, _lines_of, _Output, _StdinLines

pytestmark = pytest.mark.anyio

REQUEST = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}}


def line(message: dict[str, Any]) -> str:
    return json.dumps(message) + "\n"


class FakeStdin(_StdinLines):
    """The real stdin lines (their ``readline`` and ``close``) fed by the test, with no reader thread."""

    def __init__(self) -> None:
        self.send, self._receive = anyio.create_memory_object_stream[str](100)
        self._send = self.send


class Wire:
    """An ``_Input`` being read as the SDK reads it: lines passed on, answers written back."""

    def __init__(self, lines: _Input, stdin: FakeStdin, written: Any) -> None:
        self.lines = lines
        self.stdin = stdin
        self._written = written
        self.passed: list[str] = []
        self.done = anyio.Event()

    async def feed(self, *messages: dict[str, Any] | str) -> None:
        for message in messages:
            await self.stdin.send.send(message if isinstance(message, str) else line(message))
        await anyio.wait_all_tasks_blocked()

    def end_of_input(self) -> None:
        self.stdin.send.close()

    def answers(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                item = self._written.receive_nowait()
            except anyio.WouldBlock:
                return out
            out.append(item.message.model_dump(by_alias=True, exclude_none=True))

    async def read_all(self) -> None:
        async for text in self.lines:
            self.passed.append(text)
        self.done.set()


@asynccontextmanager
async def wire(server: MCPServer, grace: float = 30) -> AsyncIterator[Wire]:
    stdin = FakeStdin()
    lines = _Input(stdin, server, grace)  # type: ignore[arg-type]
    send, written = anyio.create_memory_object_stream[SessionMessage](100)
    lines.write = send
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            lines.tasks = tg
            w = Wire(lines, stdin, written)
            tg.start_soon(w.read_all)
            yield w
            await w.done.wait()


def answer(request_id: object) -> SessionMessage:
    return SessionMessage(types.JSONRPCResponse(jsonrpc="2.0", id=request_id, result={}))  # type: ignore[arg-type]


async def test_at_the_end_of_input_reading_ends_only_once_the_request_read_before_is_answered(
    make_server: Callable[..., MCPServer],
) -> None:
    async with wire(make_server()) as w:
        await w.feed(REQUEST)
        w.end_of_input()
        await anyio.wait_all_tasks_blocked()
        assert not w.done.is_set()
        output = _Output(w.lines.write, w.lines.answered)  # type: ignore[arg-type]
        await output.send(SessionMessage(types.JSONRPCNotification(jsonrpc="2.0", method="notifications/message")))
        await output.send(SessionMessage(types.JSONRPCRequest(jsonrpc="2.0", id=8, method="ping")))
        await anyio.wait_all_tasks_blocked()
        assert not w.done.is_set()  # a notification or a request of the server's own answers nothing
        await output.send(answer(7))
        written = w.answers()
    assert w.passed == [line(REQUEST)]
    assert [m.get("id") for m in written] == [None, 8, 7]  # all of it reached the wire, in order


async def test_an_error_answer_also_counts_as_the_answer_the_end_waits_for(
    make_server: Callable[..., MCPServer],
) -> None:
    async with wire(make_server()) as w:
        await w.feed(REQUEST)
        w.end_of_input()
        error = types.JSONRPCError(jsonrpc="2.0", id=7, error=types.ErrorData(code=-32601, message="no"))
        await _Output(w.lines.write, w.lines.answered).send(SessionMessage(error))  # type: ignore[arg-type]
    assert w.done.is_set()


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "7"}},
    ],
    ids=["int id", "same id as text"],
)
async def test_a_request_the_client_cancelled_is_not_waited_for_at_the_end_of_input(
    make_server: Callable[..., MCPServer], message: dict[str, Any]
) -> None:
    async with wire(make_server()) as w:
        await w.feed(REQUEST, message)
        w.end_of_input()
    assert w.passed == [line(REQUEST), line(message)]


async def test_notifications_and_responses_are_not_waited_for_at_the_end_of_input(
    make_server: Callable[..., MCPServer],
) -> None:
    other_cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}
    response = {"jsonrpc": "2.0", "id": 5, "result": {}}
    async with wire(make_server()) as w:
        await w.feed({"jsonrpc": "2.0", "method": "notifications/initialized"}, response, other_cancel)
        w.end_of_input()
    assert len(w.passed) == 3


async def test_past_the_grace_the_end_of_input_stops_waiting_and_says_how_many_are_unanswered(
    make_server: Callable[..., MCPServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_server")
    async with wire(make_server(), grace=0.2) as w:
        await w.feed(REQUEST, {**REQUEST, "id": 8})
        w.end_of_input()
    messages = [r.getMessage() for r in caplog.records if r.name == "mcp_server"]
    assert "qwen-ci-mcp: input ended: letting calls in flight finish (up to 0.15 s; exit within 0.2 s)" in messages
    assert "qwen-ci-mcp: 2 requests still unanswered at the end of the 0.2 s grace; exiting anyway" in messages


async def test_during_the_end_a_request_is_refused_with_32000_and_everything_else_goes_on(
    make_server: Callable[..., MCPServer],
) -> None:
    notification = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {}}
    response = {"jsonrpc": "2.0", "id": "server-1", "result": {}}
    async with wire(make_server()) as w:
        await w.feed(REQUEST)  # unanswered: holds the end open
        w.lines.stop()
        w.lines.stop()  # a second signal changes nothing
        await w.feed({**REQUEST, "id": 9}, notification, response, "not json\n")
        refusals = w.answers()
        await _Output(w.lines.write, w.lines.answered).send(answer(7))  # type: ignore[arg-type]
        w.end_of_input()

    assert [(a["id"], a["error"]["code"]) for a in refusals] == [(9, -32000)]
    assert "shutting down" in refusals[0]["error"]["message"]
    assert w.passed == [line(REQUEST), line(notification), line(response), "not json\n"]


async def test_a_request_with_a_lone_surrogate_is_answered_here_with_a_parse_error_naming_it(
    make_server: Callable[..., MCPServer],
) -> None:
    bad = json.dumps({**REQUEST, "params": {"q": "x"}}).replace('"x"', '"x \\ud800 y"') + "\n"
    async with wire(make_server()) as w:
        await w.feed(bad)
        replies = w.answers()
        w.end_of_input()

    assert w.passed == []  # answered here, and nothing is left to wait for at the end
    assert [(r["id"], r["error"]["code"]) for r in replies] == [(7, types.PARSE_ERROR)]
    assert "lone UTF-16 surrogate escape" in replies[0]["error"]["message"]
    assert "Send valid UTF-8" in replies[0]["error"]["message"] and "surrogate pair" in replies[0]["error"]["message"]


async def test_a_notification_or_response_with_a_lone_surrogate_is_dropped_without_an_answer(
    make_server: Callable[..., MCPServer],
) -> None:
    notification = '{"jsonrpc": "2.0", "method": "notifications/message", "params": {"x": "\\udc00"}}\n'
    response = '{"jsonrpc": "2.0", "id": 3, "result": {"x": "\\udc00"}}\n'
    async with wire(make_server()) as w:
        await w.feed(notification, response)
        replies = w.answers()
        w.end_of_input()
    assert w.passed == [] and replies == []


async def test_a_valid_surrogate_pair_goes_on_untouched(make_server: Callable[..., MCPServer]) -> None:
    paired = json.dumps({**REQUEST, "params": {"q": "\U0001f600"}}) + "\n"  # json.dumps escapes it as a pair
    assert "\\ud83d\\ude00" in paired
    async with wire(make_server()) as w:
        await w.feed(paired)
        replies = w.answers()
        await _Output(w.lines.write, w.lines.answered).send(answer(7))  # type: ignore[arg-type]
        w.end_of_input()
    assert w.passed == [paired] and replies == []


def test_a_lone_surrogate_is_found_in_keys_values_and_lists_at_any_depth() -> None:
    assert _has_lone_surrogate({"a": [1, {"b": "\ud800"}]})
    assert _has_lone_surrogate({"\udfff": 1})
    assert _has_lone_surrogate(["ok", "\udc00"])
    assert not _has_lone_surrogate({"a": ["\U0001f600", 1, None, {"b": "ok"}]})


def test_lines_are_split_on_newlines_whatever_the_reads_and_a_last_line_without_one_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = [b'{"a": 1}\n{"b"', b": 2}\n\n{}\n{", b'"c": 3}', b""]
    monkeypatch.setattr(os, "read", lambda fd, size: reads.pop(0))
    assert list(_lines_of(0)) == [b'{"a": 1}\n', b'{"b": 2}\n', b"\n", b"{}\n", b'{"c": 3}']


async def test_a_line_that_is_not_json_goes_on_with_a_warning_naming_its_length_and_a_blank_one_without(
    make_server: Callable[..., MCPServer], caplog: pytest.LogCaptureFixture
) -> None:
    cut = '{"jsonrpc": "2.0", "id": 2, "method": "tools/ca\n'  # a request cut short
    with_escape = '{"id": 3, "method": "x", "params": "\\ud800\n'  # not JSON either, with a surrogate escape
    async with wire(make_server()) as w:
        await w.feed(cut, with_escape, "\n")
        w.end_of_input()
    assert w.passed == [cut, with_escape, "\n"]  # the SDK decides; nothing is waited for at the end
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"qwen-ci-mcp: ignored a line of input that is not JSON ({n} characters): each line must be one JSON-RPC "
        "message; a request in it gets no answer (is something else writing to stdin?)"
        for n in (len(cut) - 1, len(with_escape) - 1)
    ]
