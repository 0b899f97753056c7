"""Real clients against the real server process: cancel, queued calls, shutdown, stdio edges.

The Python `mcp` client is driven in both its modes (handshake-era "legacy" and the stateless
2026-07-28 "auto"); the emulator's stalls and code pauses keep calls going without sleeps here.
"""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from mcp_server import TOOL_NAME
from mcp_server._fit import MAX_RESULT_BYTES
from mcp_server.http import app as http_app
from mcp_server.http.app import listening_socket, serve_http
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .conftest import REPO
from .processes import ServerProcess, http_server_process, server_env
from .test_tool import MODES, Progress, cancel_while_thinking, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def stalling_emu() -> Iterator[Emulator]:
    """An emulator whose next stream goes silent after its third event (until it is stopped)."""
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=60))
        yield emu


def serve(emu: Emulator, *args: str) -> Any:
    return http_server_process(
        "--base-url", emu.base_url, "--max-retries", "0", "--max-wait", "0", *args, DASHSCOPE_API_KEY=PLANTED_KEY
    )


def client(url: str, mode: str) -> Client:
    return Client(streamable_http_client(url), mode=mode)


@asynccontextmanager
async def serving(
    emu: Emulator, mode: str, *args: str, seconds: float = 30
) -> AsyncIterator[tuple[ServerProcess, Client]]:
    """The server process on *emu* with *args*, a client of it in *mode*, and *seconds* for the test's work."""
    with serve(emu, *args) as server:
        async with client(server.url, mode) as c:
            with anyio.fail_after(seconds):
                yield server, c


def flatten(exc: BaseException) -> str:
    """Every message in an exception and the groups around it."""
    if isinstance(exc, BaseExceptionGroup):
        return "\n".join(flatten(e) for e in exc.exceptions)
    return str(exc)


async def wait_for_log(server: ServerProcess, pattern: str, seconds: float = 30) -> None:
    """Wait until the server logs a line matching *pattern*; fail saying so (with its log) after *seconds*
    without a new line."""
    try:
        await anyio.to_thread.run_sync(server.wait_for, pattern, seconds)
    except queue.Empty:
        raise AssertionError(f"the server logged no {pattern!r} (its log:)\n{server.output()}") from None


@contextmanager
def step(server: ServerProcess, what: str, seconds: float) -> Iterator[None]:
    """One bounded step of a test against *server*: past *seconds* it fails saying *what* did not happen,
    with the server's log."""
    try:
        with anyio.fail_after(seconds):
            yield
    except TimeoutError:
        raise AssertionError(f"{what}: not within {seconds:g} s (the server's log:)\n{server.output()}") from None


@contextmanager
def log_attached(server: ServerProcess) -> Iterator[None]:
    """Whatever fails inside carries the server's log (as a note)."""
    try:
        yield
    except BaseException as exc:
        exc.add_note("the server's log:\n" + server.output())
        raise


async def exit_code(server: ServerProcess, seconds: float) -> int:
    """The server's exit code; fail saying so (with its log) if it has not exited within *seconds*."""
    try:
        return await anyio.to_thread.run_sync(server.wait, seconds)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the server did not exit within {seconds:g} s (its log:)\n{server.output()}") from None


# --- cancel and timeout (issue 12, problem 1) -----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_over_http_a_client_timeout_closes_the_upstream_request_and_frees_the_slot(
    stalling_emu: Emulator, mode: str
) -> None:
    async with serving(stalling_emu, mode, "--max-concurrency", "1") as (server, c):
        progress = Progress()
        with pytest.raises(MCPError, match=r"[Tt]imed out|timeout"):
            # The stream stalls after "thinking": the client gives up after 1 s of silence.
            await c.call_tool(
                TOOL_NAME, {"question": SEED_QUESTION}, read_timeout_seconds=1, progress_callback=progress
            )
        assert "thinking" in progress.messages
        assert await anyio.to_thread.run_sync(stalling_emu.wait_for_connections, 0, 5.0)
        # The one slot is free again: the next call runs (the emulator's fault was used up).
        result = await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
        await wait_for_log(server, "cancelled")

    assert not result.is_error and SEED_ANSWER in text_of(result)
    assert len(stalling_emu.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_over_http_a_cancelled_call_closes_the_upstream_request_at_once(
    stalling_emu: Emulator, mode: str
) -> None:
    async with serving(stalling_emu, mode) as (_, c):
        await cancel_while_thinking(c, stalling_emu)


# --- queued calls (problem 6) -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_queued_call_whose_client_has_gone_never_reaches_the_service(stalling_emu: Emulator, mode: str) -> None:
    with serve(stalling_emu, "--max-concurrency", "1") as server:
        async with client(server.url, mode) as first, client(server.url, mode) as second:
            with anyio.fail_after(30):
                running, queued = Progress(), Progress()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(
                        lambda: first.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=running)
                    )
                    await running.seen("thinking").wait()
                    async with anyio.create_task_group() as gone:
                        gone.start_soon(
                            lambda: second.call_tool(TOOL_NAME, {"question": "2+2?"}, progress_callback=queued)
                        )
                        await queued.seen("waiting for a free slot").wait()
                        gone.cancel_scope.cancel()  # the queued call's client gives up...
                    tg.cancel_scope.cancel()  # ...then the running one's, which frees the slot
                assert await anyio.to_thread.run_sync(stalling_emu.wait_for_connections, 0, 5.0)
                result = await first.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert not result.is_error
    assert len(stalling_emu.requests) == 2, "the queued call must never have been sent"


# --- result size (problem 4) -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_over_http_a_megabyte_of_reasoning_reaches_the_client_cut_to_fit_one_event(mode: str) -> None:
    with Emulator() as emu:
        emu.add_fault(Fault.huge_line(size=1_200_000))  # one reasoning delta of 1.2 million characters
        async with serving(emu, mode, "--max-output-chars", "5000000", seconds=60) as (_, c):
            result = await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert not result.is_error
    assert SEED_ANSWER in text_of(result)
    structured = result.structured_content
    assert structured is not None and structured["truncated"][0].startswith("reasoning (kept ")
    assert structured["answer"].endswith(SEED_ANSWER)
    assert len(result.model_dump_json(by_alias=True, exclude_none=True).encode()) <= MAX_RESULT_BYTES


# --- graceful shutdown (problem 5) ------------------------------------------------------------------


@pytest.mark.timeout(120)  # the sum of the steps' bounds below, so that a step that hangs says which
async def test_on_sigterm_calls_in_flight_finish_and_are_delivered_new_calls_are_refused_and_exit_is_0() -> None:
    with Emulator(code_pause=1.5) as emu, serve(emu, "--shutdown-grace", "30") as server, log_attached(server):
        results: dict[str, CallToolResult] = {}
        progress = {mode: Progress() for mode in MODES}
        closed = {mode: anyio.Event() for mode in MODES}

        async def run(mode: str) -> None:
            async with client(server.url, mode) as c:
                results[mode] = await c.call_tool(
                    TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress[mode]
                )
            closed[mode].set()

        async with anyio.create_task_group() as tg:
            for mode in MODES:
                tg.start_soon(run, mode)
            with step(server, "both calls reporting 'running code #1'", 20):
                for mode in MODES:  # either may come first
                    await progress[mode].seen("running code #1").wait()
            server.terminate()
            await wait_for_log(server, "shutting down", 10)
            with (
                step(server, "a client connecting during the shutdown being answered", 15),
                pytest.raises(Exception) as refused,  # noqa: PT011 - the client wraps it in groups
            ):
                async with client(server.url, "legacy") as late:
                    await late.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
            with step(server, "the calls in flight being delivered and their clients closing", 15):
                for mode in MODES:
                    await closed[mode].wait()
        code = await exit_code(server, 15)

    assert code == 0
    for mode in MODES:
        assert not results[mode].is_error and SEED_ANSWER in text_of(results[mode])
    assert "This MCP server is shutting down" in flatten(refused.value)
    assert len(emu.requests) == 2
    assert not any("ASGI callable returned without completing" in line for line in server.log)


async def test_progress_seen_is_set_at_once_for_a_message_that_arrived_before_the_wait() -> None:
    progress = Progress()
    await progress(1, None, "running code #1")

    assert progress.seen("running code #1").is_set()
    assert not progress.seen("running code #2").is_set()


@pytest.mark.parametrize("mode", MODES)
async def test_on_sigterm_a_call_still_running_after_the_grace_is_cancelled_with_its_partial(
    stalling_emu: Emulator, mode: str
) -> None:
    with serve(stalling_emu, "--shutdown-grace", "0.2") as server:
        async with client(server.url, mode) as c:
            with anyio.fail_after(30):
                progress = Progress()
                async with anyio.create_task_group() as tg:
                    got: list[CallToolResult] = []

                    async def run() -> None:
                        got.append(
                            await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress)
                        )

                    tg.start_soon(run)
                    await progress.seen("thinking").wait()
                    server.terminate()
        code = await anyio.to_thread.run_sync(server.wait)

    assert code == 0
    (result,) = got
    assert result.is_error
    assert "cancelled: the server is shutting down" in text_of(result)
    assert result.structured_content is not None and result.structured_content["reasoning"]  # the partial


# --- stdio: end of input, SIGTERM, a lone surrogate (problems 5 and 7) --------------------------------


def stdio_process(emu: Emulator, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "--max-retries", "0", "--max-wait", "0", *args],
        env=server_env(DASHSCOPE_API_KEY=PLANTED_KEY, DASHSCOPE_HTTP_BASE_URL=emu.base_url),
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


HANDSHAKE = [
    {"jsonrpc": "2.0", "id": 0, "method": "initialize",
     "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
]  # fmt: skip
CALL = {
    "jsonrpc": "2.0", "id": 1, "method": "tools/call",
    "params": {"name": TOOL_NAME, "arguments": {"question": SEED_QUESTION}, "_meta": {"progressToken": "p"}},
}  # fmt: skip


def read_until(proc: subprocess.Popen[str], predicate: Any) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:  # bounded by the caller's process timeout
        message = json.loads(line)
        if predicate(message):
            return dict(message)
    raise AssertionError("stdout ended first")


@contextmanager
def stdio_server(emu: Emulator, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The server over stdio against *emu* (see :func:`stdio_process`), stopped at the end."""
    proc = stdio_process(emu, *args)
    try:
        yield proc
    finally:
        stop(proc)


@contextmanager
def stdio_call_at(emu: Emulator, stage: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The server over stdio after the handshake and :data:`CALL` (id 1), once the call's progress
    has reported *stage* ("thinking", "running code")."""
    with stdio_server(emu, *args) as proc:
        for message in [*HANDSHAKE, CALL]:
            send(proc, message)
        read_until(proc, lambda m: m.get("method") == "notifications/progress" and stage in str(m))
        yield proc


@pytest.mark.parametrize("ending", ["end of input", "SIGTERM", "SIGINT"])
def test_over_stdio_a_call_in_flight_when_input_ends_or_sigterm_arrives_is_answered_then_exit_0(ending: str) -> None:
    with Emulator(code_pause=1.0) as emu, stdio_call_at(emu, "running code", "--shutdown-grace", "30") as proc:
        if ending == "SIGTERM":
            proc.terminate()
        elif ending == "SIGINT":  # Ctrl-C in a terminal that runs the server
            proc.send_signal(signal.SIGINT)
        else:
            assert proc.stdin is not None
            proc.stdin.close()
        answer = read_until(proc, lambda m: m.get("id") == 1)
        code = proc.wait(timeout=30)

    assert SEED_ANSWER in json.dumps(answer["result"])
    assert code == 0


def test_over_stdio_a_request_answered_with_an_error_does_not_hold_the_exit_at_the_end_of_input() -> None:
    with Emulator() as emu, stdio_server(emu, "--shutdown-grace", "30") as proc:
        for message in HANDSHAKE:
            send(proc, message)
        send(proc, {"jsonrpc": "2.0", "id": 2, "method": "no/such_method"})
        answer = read_until(proc, lambda m: m.get("id") == 2)
        assert proc.stdin is not None
        proc.stdin.close()
        code = proc.wait(timeout=15)  # answered: nothing to wait for (the grace is 30 s)

    assert answer["error"]["code"] == -32601
    assert code == 0


def test_over_stdio_a_lone_surrogate_gets_a_clear_error_instead_of_silence() -> None:
    with Emulator() as emu, stdio_server(emu) as proc:
        for message in HANDSHAKE:
            send(proc, message)
        bad = json.dumps({**CALL, "id": 2}).replace(SEED_QUESTION, "x \\ud800 y")
        assert proc.stdin is not None
        proc.stdin.write(bad + "\n")
        proc.stdin.flush()
        answer = read_until(proc, lambda m: m.get("id") == 2)
        send(proc, CALL)  # the server goes on serving
        after = read_until(proc, lambda m: m.get("id") == 1)
        proc.stdin.close()
        code = proc.wait(timeout=30)

    assert answer["error"]["code"] == -32700
    assert "lone UTF-16 surrogate" in answer["error"]["message"]
    assert SEED_ANSWER in json.dumps(after["result"])
    assert emu.requests and len(emu.requests) == 1
    assert code == 0


def test_over_stdio_a_line_that_is_not_json_is_logged_as_a_warning_and_serving_goes_on() -> None:
    with Emulator() as emu, stdio_server(emu) as proc:
        for message in HANDSHAKE:
            send(proc, message)
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write('{"jsonrpc": "2.0", "id": 2, "method": "tools/ca\n')  # a request cut short
        send(proc, CALL)
        after = read_until(proc, lambda m: m.get("id") == 1)
        proc.stdin.close()
        code = proc.wait(timeout=30)
        log = proc.stderr.read()

    assert SEED_ANSWER in json.dumps(after["result"]) and code == 0
    assert "WARNING mcp_server: qwen-ci-mcp: ignored a line of input that is not JSON (47 characters)" in log
    assert PLANTED_KEY not in log


def test_over_stdio_a_line_that_is_not_utf8_neither_ends_the_input_nor_stops_serving() -> None:
    with Emulator() as emu, stdio_server(emu) as proc:
        for message in HANDSHAKE:
            send(proc, message)
        assert proc.stdin is not None
        proc.stdin.buffer.write(b'{"jsonrpc": "2.0", "method": "notifications/x\xff\xfe"}\n')  # not UTF-8
        send(proc, CALL)
        after = read_until(proc, lambda m: m.get("id") == 1)
        proc.stdin.close()
        code = proc.wait(timeout=30)

    assert SEED_ANSWER in json.dumps(after["result"]) and code == 0


# --- TCP_NODELAY (problem 3) --------------------------------------------------------------------------


async def test_connections_accepted_by_the_http_server_have_tcp_nodelay() -> None:
    config = uvicorn.Config(app=None, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    sock = listening_socket(config)
    seen: list[int] = []

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=sock)
    async with server:
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        with anyio.fail_after(10):
            await reader.read()
        writer.close()

    assert seen and seen[0] != 0


async def test_serve_http_listens_on_a_socket_whose_connections_get_tcp_nodelay(
    make_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[socket.socket] = []

    async def serve(self: uvicorn.Server, sockets: list[socket.socket]) -> None:
        served.extend(sockets)  # what serve_http hands uvicorn; then it returns at once

    monkeypatch.setattr(http_app._Server, "serve", serve)
    with anyio.fail_after(10):
        await serve_http(make_server(), host="127.0.0.1", port=0, credentials=None)

    (sock,) = served
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket says TCP.
    assert sock.proto == socket.IPPROTO_TCP
    sock.close()
