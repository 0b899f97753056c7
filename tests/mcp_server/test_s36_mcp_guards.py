"""Quiet effects in the MCP server's own modules (issue 26, the s36 hand sweep of ``_stdio``, ``_requests``,
``_signals``, ``_stdout``, ``_logs``, ``_ops`` and the rest): tables keyed by a request that must be empty once
it ends, handlers put back, a reader thread told to stop. Each test was checked to fail with the break it names."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import SimpleNamespace

import anyio
import pytest
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage

from mcp_server import RESULT_TOOL_NAME, create_server
from mcp_server._logs import JSONFormatter, configure_logging
from mcp_server._ops import Ops, serving
from mcp_server._requests import CancelScopes, Exchange
from mcp_server._signals import signals
from mcp_server._stdio import _Output, _StdinLines
from mcp_server.runs.deadline import Deadline
from qwen_ci_tool import ConfigurationError

from ..conftest import PLANTED_KEY
from .test_ops import metric_samples, value
from .test_signals import make_loop_windows_like, next_of
from .test_transport_guards_stdio import REQUEST, answer, wire

pytestmark = pytest.mark.anyio


async def test_a_guard_scope_is_forgotten_once_its_block_ends_so_an_exchange_holds_none_afterwards() -> None:
    # Break: `self._open.discard(scope)` dropped in CancelScopes.open: every guard ever opened stays in the set
    # (a long HTTP request polling many times grows it; a late abort cancels scopes long gone).
    scopes = CancelScopes()
    for _ in range(3):
        with scopes.open() as scope:
            assert not scope.cancel_called
    assert scopes._open == set()

    exchange = Exchange(admitted=True, on_start=lambda _: None)
    with exchange.guard():
        pass
    exchange.abort("client gone")
    assert exchange._guards._open == set()
    with exchange.guard() as late:  # opened after the abort: cancelled at once
        await anyio.lowlevel.checkpoint()
    assert late.cancel_called and late.cancelled_caught


async def test_where_the_loop_cannot_watch_signals_several_arriving_before_any_is_read_all_arrive_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break: the plain handlers' stream given a buffer of 1 instead of an unbounded one: a second signal
    # arriving before the first is read fails in the loop's callback and is lost (a SIGHUP reload, or the
    # second Ctrl-C that must end the server at once).
    make_loop_windows_like(monkeypatch)
    with signals("SIGUSR1", "SIGUSR2") as received:
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR1):
            os.kill(os.getpid(), sig)
        await anyio.wait_all_tasks_blocked()  # the loop has run every hand-over
        got = [await next_of(received) for _ in range(3)]
    assert got == [signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR1]


class _PipeStdin:
    """What ``sys.stdin`` is to the reader thread: something with a ``fileno``."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


async def _lines_until_the_end(stdin: _StdinLines) -> list[str]:
    lines: list[str] = []
    with anyio.fail_after(10):
        while line := await stdin.readline():
            lines.append(line)
    return lines


async def test_stdin_bytes_that_are_not_utf8_are_replaced_and_reading_goes_on_to_the_end_of_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Breaks: the reader decoding strictly (one bad byte from the client ends its thread: the server sees
    # end of input and shuts down); the reader's `send.close` at its end dropped (end of input never arrives:
    # the server waits for ever).
    read_fd, write_fd = os.pipe()
    try:
        monkeypatch.setattr(sys, "stdin", _PipeStdin(read_fd))
        os.write(write_fd, b"one\n\xff\xfetwo\nthree")
        os.close(write_fd)
        write_fd = -1
        stdin = _StdinLines()
        stdin.start()
        lines = await _lines_until_the_end(stdin)
        assert lines == ["one\n", "\ufffd\ufffdtwo\n", "three"]
        assert await stdin.readline() == ""  # and stays ended
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


async def test_once_closed_stdin_reads_as_ended_and_the_reader_thread_stops_at_its_next_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Breaks: `close()` not closing the receiving end (a read after the end blocks; the thread keeps handing
    # lines over); ClosedResourceError no longer read as the end (a read after close raises); the reader
    # made a non-daemon thread (a server stopped by a signal waits at exit for a read that never returns).
    read_fd, write_fd = os.pipe()
    try:
        monkeypatch.setattr(sys, "stdin", _PipeStdin(read_fd))
        before = set(threading.enumerate())
        stdin = _StdinLines()
        stdin.start()
        (reader,) = set(threading.enumerate()) - before
        assert reader.daemon  # a signal ends the server even while this thread blocks in a read
        os.write(write_fd, b"first\n")
        with anyio.fail_after(10):
            assert await stdin.readline() == "first\n"
        stdin.close()
        with anyio.fail_after(10):
            assert await stdin.readline() == ""
        os.write(write_fd, b"second\n")  # the thread's hand-over fails: it ends
        await anyio.to_thread.run_sync(reader.join, 10)
        assert not reader.is_alive()
    finally:
        os.close(read_fd)
        os.close(write_fd)


async def test_at_the_end_the_runs_are_drained_within_the_grace_and_stdin_is_closed(
    make_server: Callable[..., MCPServer],
) -> None:
    # Breaks: `_end` not draining the runs (a run past the grace is never cancelled with its partial, new
    # calls are not refused); `_end` not closing stdin (the reader thread goes on handing lines to nobody).
    drained: list[float] = []

    async def drain(deadline: Deadline, *_: object, **__: object) -> None:
        drained.append(deadline.grace)

    async with wire(make_server(), grace=12.5) as w:
        w.lines._runtime = SimpleNamespace(drain=drain)
        await w.feed(REQUEST)
        await _Output(w.lines.write, w.lines.answered).send(answer(7))  # type: ignore[arg-type]
        w.lines.stop()  # SIGTERM: stdin is still open
    assert drained == [12.5]
    with pytest.raises(anyio.BrokenResourceError):
        w.stdin.send.send_nowait("a line after the end\n")


async def test_closing_the_output_closes_the_stream_it_writes_to() -> None:
    # Breaks: `_Output.aclose` or its `__aexit__` not closing the inner stream (the SDK's stdout writer
    # never sees the end, and the server does not finish).
    for use_context in (False, True):
        send, receive = anyio.create_memory_object_stream[SessionMessage](1)
        output = _Output(send, lambda _: None)
        if use_context:
            async with output:
                pass
        else:
            await output.aclose()
        with pytest.raises(anyio.EndOfStream):
            receive.receive_nowait()
        receive.close()


def test_an_exchange_keeps_the_first_abort_reason_and_an_empty_reason_still_counts_as_aborted() -> None:
    # Breaks: a second abort overwriting the first reason (a client's cancel reported as a later disconnect);
    # `aborted` read from the reason's truth (an empty reason: not aborted, and the run not cut).
    exchange = Exchange(admitted=False, on_start=lambda _: None)
    assert not exchange.aborted
    exchange.abort("cancelled by the client")
    exchange.abort("client disconnected")
    assert exchange.reason == "cancelled by the client"
    quiet = Exchange(admitted=False, on_start=lambda _: None)
    quiet.abort("")
    assert quiet.aborted


def test_a_json_stamp_pads_the_milliseconds_to_three_digits() -> None:
    # Break: the milliseconds written unpadded (.5Z for .005 s: a stamp that sorts and parses wrong).
    record = logging.LogRecord("mcp_server", logging.INFO, __file__, 1, "x", (), None)
    record.created = 1_700_000_001.0501
    assert json.loads(JSONFormatter(lambda text: text).format(record))["time"] == "2023-11-14T22:13:21.050Z"


def test_configuring_logging_replaces_the_root_handlers_instead_of_adding_one() -> None:
    # Break: the handler added to the root logger's handlers: every line then also goes to whatever was
    # there (twice on stderr when configured again).
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = [logging.getLogger(name).level for name in ("httpx", "mcp.server.streamable_http")]
    before = logging.NullHandler()
    try:
        root.handlers[:] = [before]
        configure_logging("INFO", "json", lambda text: text)
        configure_logging("INFO", "text", lambda text: text)
        got = root.handlers[:]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in zip(("httpx", "mcp.server.streamable_http"), quiet, strict=True):
            logging.getLogger(name).setLevel(old)
    assert len(got) == 1 and got[0] is not before


def test_a_run_handle_is_counted_for_the_client_being_served() -> None:
    # Break: the handle counted under the local client whatever client was served.
    ops = Ops()
    with serving("alice", "req-1"):
        ops.handle_issued("run-1")
    samples = metric_samples(ops.metrics.exposition().decode())
    assert value(samples, "qwen_ci_run_handles_total", client="alice") == 1
    assert value(samples, "qwen_ci_run_handles_total", client="local") == 0


@pytest.mark.parametrize("setting", ["max_wait", "result_ttl"])
def test_a_boolean_given_as_seconds_is_refused_not_read_as_one_or_zero(setting: str) -> None:
    # Break: the bool clause dropped from the seconds check (True is an int: max_wait=True served as 1 s).
    with pytest.raises(ConfigurationError, match=f"Invalid {setting.replace('_', ' ')}: True"):
        create_server(api_key=PLANTED_KEY, **{setting: True})  # type: ignore[arg-type]


async def test_the_result_tool_states_the_wait_and_the_keep_time_in_their_places_and_bounds_the_run_id() -> None:
    # Breaks: max_wait and result_ttl swapped in the result tool's description; run_id's max_length dropped.
    server = create_server(api_key=PLANTED_KEY, max_wait=7, result_ttl=345)
    (tool,) = [t for t in await server.list_tools() if t.name == RESULT_TOOL_NAME]
    assert "Waits up to 7 s" in (tool.description or "")
    assert "kept 345 s after a run ends" in " ".join((tool.description or "").split())
    assert tool.input_schema["properties"]["run_id"]["maxLength"] == 200
