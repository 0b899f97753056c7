"""Replicas sharing runs through a real Redis (``--run-store redis://...``), as real processes.

A handle from one replica is collected on another; a legacy client's cancel sent to the wrong
replica still stops the call; a replica that drains hands its runs over; with Redis down, calls
still run and say so. Redis is Debian's ``redis-server`` (see ``tests/redis_server.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from ..redis_server import free_port
from .processes import ServerProcess, http_server_process
from .test_tool import MODES, Progress, text_of

pytestmark = pytest.mark.anyio


@contextmanager
def replicas(emu: Emulator, store: str, *args: str, count: int = 2) -> Iterator[list[ServerProcess]]:
    """*count* servers on one emulator and one run store."""
    options = ("--base-url", emu.base_url, "--max-retries", "0", "--run-store", store, *args)
    with ExitStack() as stack:
        yield [stack.enter_context(http_server_process(*options, DASHSCOPE_API_KEY=PLANTED_KEY)) for _ in range(count)]


def client(url: str, mode: str = "auto") -> Client:
    return Client(streamable_http_client(url), mode=mode)  # type: ignore[arg-type]


async def start_run(url: str, mode: str = "auto") -> str:
    """Start the seed task on *url*; its run outlasts --max-wait, so the answer is a handle."""
    async with client(url, mode) as c:
        first = await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
    assert first.structured_content is not None and first.structured_content["status"] == "running", text_of(first)
    return str(first.structured_content["run_id"])


async def collect(url: str, run_id: str, mode: str = "auto") -> Any:
    """Ask *url* for the run until it is not running any more."""
    async with client(url, mode) as c:
        while True:
            answer = await c.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
            if answer.is_error or (answer.structured_content or {}).get("status") != "running":
                return answer


@pytest.mark.parametrize("mode", MODES)
async def test_a_handle_from_one_replica_is_collected_on_another(redis_url: str, mode: str) -> None:
    with Emulator(code_pause=1.0) as emu, replicas(emu, redis_url, "--max-wait", "0.3") as (a, b):
        with anyio.fail_after(30):
            run_id = await start_run(a.url, mode)
            answer = await collect(b.url, run_id, mode)

    assert not answer.is_error and SEED_ANSWER in text_of(answer)
    assert len(emu.requests) == 1  # billed once


# --- a legacy cancel sent to the other replica ---------------------------------------------------

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def legacy_session(http: httpx2.AsyncClient, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A handshake-era session: the headers its later requests carry (with the minted session id)."""
    init = {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    }  # fmt: skip
    response = await http.post(url, json=init, headers={**HEADERS, **(extra or {})})
    assert response.status_code == 200
    headers = {
        **HEADERS,
        **(extra or {}),
        "Mcp-Session-Id": response.headers["mcp-session-id"],
        "MCP-Protocol-Version": "2025-11-25",
    }
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return headers


async def call_until(http: httpx2.AsyncClient, url: str, headers: dict[str, str], request_id: int, seen: str) -> Any:
    """POST the seed call and read its event stream; returns once a progress message has *seen*,
    leaving the response open in the returned context."""
    call = {
        "jsonrpc": "2.0", "id": request_id, "method": "tools/call",
        "params": {"name": TOOL_NAME, "arguments": {"question": SEED_QUESTION}, "_meta": {"progressToken": "p"}},
    }  # fmt: skip
    stream = http.stream("POST", url, json=call, headers=headers)
    response = await stream.__aenter__()
    lines = response.aiter_lines()
    async for line in lines:
        if line.startswith("data:") and seen in line:
            return stream, lines
    raise AssertionError("the call's stream ended before " + seen)


async def test_a_legacy_cancel_sent_to_another_replica_stops_the_upstream_call_within_a_second(redis_url: str) -> None:
    emu = Emulator()
    emu.add_fault(Fault.stall(after_events=3, seconds=60))
    with emu, replicas(emu, redis_url) as (a, b):
        async with httpx2.AsyncClient(timeout=30) as http:
            with anyio.fail_after(30):
                headers = await legacy_session(http, a.url)
                stream, lines = await call_until(http, a.url, headers, 7, "thinking")
                assert emu.active_connections == 1
                cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
                response = await http.post(b.url, json=cancel, headers=headers)  # the wrong replica
                assert response.status_code == 202
                closed = await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 1.0)
                rest = [line async for line in lines]
                await stream.__aexit__(None, None, None)

    assert closed, "the upstream call on A was still open a second after the cancel reached B"
    assert len(emu.requests) == 1
    assert "forwarded by another replica" in a.output()
    answer = json.loads(next(line for line in rest if line.startswith("data:"))[5:])
    assert answer["id"] == 7 and "cancel" in json.dumps(answer).lower()


async def test_a_cancel_from_another_client_on_another_replica_does_not_stop_the_call(redis_url: str) -> None:
    with Emulator(code_pause=1.0) as emu, replicas(emu, redis_url) as (a, b):
        async with httpx2.AsyncClient(timeout=30) as http:
            with anyio.fail_after(30):
                owner = await legacy_session(http, a.url)
                other = await legacy_session(http, b.url)
                stream, lines = await call_until(http, a.url, owner, 7, "running code")
                cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
                await http.post(b.url, json=cancel, headers=other)  # same request id, another session
                rest = [line async for line in lines]
                await stream.__aexit__(None, None, None)

    answer = json.loads(next(line for line in rest if line.startswith("data:") and '"id":7' in line)[5:])
    assert SEED_ANSWER in json.dumps(answer["result"])


# --- a draining replica hands its runs over ----------------------------------------------------------


async def test_a_run_in_flight_on_a_replica_that_gets_sigterm_is_collected_on_another(redis_url: str) -> None:
    with Emulator(code_pause=1.5) as emu, replicas(emu, redis_url, "--max-wait", "0.3") as (a, b):
        with anyio.fail_after(30):
            run_id = await start_run(a.url)
            a.terminate()
            answer = await collect(b.url, run_id)
            code = await anyio.to_thread.run_sync(a.wait)

    assert not answer.is_error and SEED_ANSWER in text_of(answer)
    assert code == 0
    assert len(emu.requests) == 1


# --- Redis down ----------------------------------------------------------------------------------------


def assert_store_unavailable_shown(
    first: CallToolResult, answer: CallToolResult, elsewhere: CallToolResult, metrics: str, log: str
) -> None:
    """With the run store unavailable: the call's handle says so, its own replica still answers for
    it, another replica's run cannot be collected, and ``/metrics`` and the log show the failure."""
    assert "run store this server shares with its replicas is unavailable" in text_of(first)
    assert not answer.is_error and SEED_ANSWER in text_of(answer)  # its own replica still answers
    assert elsewhere.is_error and "run store" in text_of(elsewhere) and "unavailable" in text_of(elsewhere)
    assert "qwen_ci_run_store_up 0.0" in metrics
    assert 'qwen_ci_run_store_errors_total{operation="write"}' in metrics
    assert "run store unavailable" in log


async def test_with_redis_down_calls_still_run_handles_say_so_and_metrics_and_log_show_it() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with Emulator(code_pause=1.0) as emu, replicas(emu, nowhere, "--max-wait", "0.3", count=1) as (server,):
        with anyio.fail_after(30):
            async with client(server.url) as c:
                first = await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=Progress())
                run_id = first.structured_content["run_id"]  # type: ignore[index]
                answer = await collect(server.url, run_id)
                elsewhere = await c.call_tool(RESULT_TOOL_NAME, {"run_id": "run_started_on_another_replica"})
            async with httpx2.AsyncClient(timeout=10) as http:
                metrics = (await http.get(server.root + "/metrics")).text

    assert_store_unavailable_shown(first, answer, elsewhere, metrics, server.output())


def test_a_run_store_that_is_neither_memory_nor_redis_is_refused_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    from mcp_server.__main__ import main

    assert main(["--run-store", "/var/lib/qwen-ci-mcp/runs"]) == 2  # the old shared-directory store
    err = capsys.readouterr().err
    assert "--run-store must be 'memory' or a Redis URL" in err
    assert main(["--run-store", "redis://:hunter2-secret@127.0.0.1:1/0", "--max-wait", "-1"]) == 2
    assert "hunter2" not in capsys.readouterr().err


def test_a_run_store_from_the_environment_that_is_refused_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_server.__main__ import main

    monkeypatch.setenv("QWEN_CI_MCP_RUN_STORE", "/var/lib/qwen-ci-mcp/runs")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "QWEN_CI_MCP_RUN_STORE must be 'memory' or a Redis URL" in err and "--run-store" not in err
