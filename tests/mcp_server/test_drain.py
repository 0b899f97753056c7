"""A drain that delivers (SIGTERM, --shutdown-grace), on real server processes.

During the grace the result tool keeps answering and runs that finish are delivered; calls still
queued for a slot are refused at once and never sent upstream; the process exits within the grace
(one deadline for the runs, their delivery and the connections) whatever a client is sending;
over stdio, requests sent after SIGTERM are answered with an error.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from mcp_server.runs.redis_store import RedisRunStore
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from .test_lifecycle import CALL, read_until, send, serve, stdio_call_at, wait_for_log
from .test_run_rules import collect, run_to_handle
from .test_tool import MODES, Progress, text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_a_run_finishing_during_the_drain_is_delivered_to_a_poll(mode: str) -> None:
    with Emulator(code_pause=1.0) as emu, serve(emu, "--max-wait", "0.3", "--shutdown-grace", "20") as server:
        with anyio.fail_after(30):
            async with Client(streamable_http_client(server.url), mode=mode) as client:  # type: ignore[arg-type]
                run_id = await run_to_handle(client)
                server.terminate()
                await wait_for_log(server, "shutting down")
                answers = []
                while not answers or (answers[-1].structured_content or {}).get("status") == "running":
                    answers.append(await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id}))
                again = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})  # still there, as often as asked
            code = await anyio.to_thread.run_sync(server.wait)

    assert not answers[-1].is_error and SEED_ANSWER in text_of(answers[-1])
    assert text_of(again) == text_of(answers[-1])
    assert code == 0
    assert len(emu.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_result_that_finished_during_the_drain_waits_for_the_clients_next_poll_however_late(mode: str) -> None:
    # An agent polls when its model next decides to: seconds apart. Without a shared store the server
    # holds the only copy of the billed result, so it waits (within the runs' grace) for that poll.
    with Emulator(code_pause=0.5) as emu, serve(emu, "--max-wait", "0.1", "--shutdown-grace", "20") as server:
        with anyio.fail_after(30):
            async with Client(streamable_http_client(server.url), mode=mode) as client:  # type: ignore[arg-type]
                run_id = await run_to_handle(client)
                server.terminate()
                # The run ends with nobody polling; the server says it waits (it used to exit a second later).
                await wait_for_log(server, "for 1 results answered with a handle to be collected")
                answer = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
            code = await anyio.to_thread.run_sync(server.wait)

    assert not answer.is_error and SEED_ANSWER in text_of(answer)
    assert code == 0 and "not collected" not in server.output()
    assert len(emu.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_call_queued_for_a_slot_at_sigterm_is_refused_at_once_and_never_sent(mode: str) -> None:
    with Emulator(code_pause=2.0) as emu, serve(emu, "--max-concurrency", "1", "--shutdown-grace", "20") as server:
        with anyio.fail_after(30):
            async with (
                Client(streamable_http_client(server.url), mode=mode) as first,  # type: ignore[arg-type]
                Client(streamable_http_client(server.url), mode=mode) as second,  # type: ignore[arg-type]
            ):
                running, queued = Progress(), Progress()
                results: dict[str, object] = {}
                queued_answered = anyio.Event()

                async def call(name: str, client: Client, progress: Progress) -> None:
                    results[name] = await client.call_tool(
                        TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress
                    )
                    if name == "queued":
                        queued_answered.set()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(call, "running", first, running)
                    await running.seen("running code #1").wait()
                    tg.start_soon(call, "queued", second, queued)
                    await queued.seen("waiting for a free slot").wait()
                    server.terminate()
                    await queued_answered.wait()
                    sent_when_refused = len(emu.requests)
                    running_when_refused = "running" not in results
            code = await anyio.to_thread.run_sync(server.wait)

    refused, finished = results["queued"], results["running"]
    assert refused.is_error and "nothing was billed" in text_of(refused)  # type: ignore[attr-defined]
    assert running_when_refused, "the queued call must be refused at once, not after the running one"
    assert not finished.is_error and SEED_ANSWER in text_of(finished)  # type: ignore[attr-defined]
    assert sent_when_refused == 1 and len(emu.requests) == 1
    assert code == 0


def trickle(port: int) -> socket.socket:
    """A connection sending the start of a request body whose rest never comes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"jsonrpc": "2.0", ')
    return sock


async def test_a_client_trickling_a_request_body_does_not_hold_the_exit_and_gets_503() -> None:
    with Emulator() as emu, serve(emu, "--shutdown-grace", "1") as server, trickle(server.port) as sock:
        server.terminate()
        code = server.wait(timeout=20)  # the grace is 1 s: well under 20 s
        answer = sock.recv(65536)

    assert code == 0
    assert answer.startswith(b"HTTP/1.1 503") and b"shutting down" in answer  # told, not cut off
    assert "Traceback" not in server.output()


#: Seconds a process may take past its grace to exit: the interpreter ending, on a loaded machine.
#: Before the shutdown shared one deadline it took the grace plus a second of quiet plus 2 s for
#: connections (and up to 5 s more to deliver).
EXIT_SLACK = 2.5


async def test_the_process_exits_within_the_grace_while_a_client_trickles_and_what_ends_in_it_is_delivered_and_written(
    redis_url: str,
) -> None:
    grace = 10.0
    emu = Emulator(code_pause=1.0)
    emu.add_fault(Fault.stall(after_events=3, seconds=60))  # the first run goes silent: the grace cuts it
    options = ("--max-wait", "0.3", "--shutdown-grace", f"{grace:g}", "--run-store", redis_url)
    with emu, serve(emu, *options) as server, anyio.fail_after(60):
        async with Client(streamable_http_client(server.url)) as client:
            cut = await run_to_handle(client)
            finishing = await run_to_handle(client)
            with trickle(server.port):
                server.terminate()
                signalled = anyio.current_time()
                await wait_for_log(server, "shutting down")
                async with anyio.create_task_group() as tg:
                    answers: dict[str, CallToolResult] = {}

                    async def poll(run_id: str) -> None:
                        answers[run_id] = await collect(client, run_id)

                    for run_id in (cut, finishing):
                        tg.start_soon(poll, run_id)
                code = await anyio.to_thread.run_sync(server.wait)
                took = anyio.current_time() - signalled
        store = RedisRunStore(redis_url)
        try:
            written = {run_id: await store.get(run_id) for run_id in (cut, finishing)}
        finally:
            await store.aclose()

    assert code == 0 and "Traceback" not in server.output()
    assert took < grace + EXIT_SLACK, f"exited {took:.1f} s after SIGTERM with a grace of {grace:g} s"
    assert not answers[finishing].is_error and SEED_ANSWER in text_of(answers[finishing])  # delivered to its poll
    assert answers[cut].is_error and "cancelled: the server is shutting down" in text_of(answers[cut])
    for run_id, answer in answers.items():  # and written to the store, as delivered
        record = written[run_id]
        assert record is not None and record.state == "finished" and record.result is not None
        assert text_of(CallToolResult.model_validate(record.result)) == text_of(answer)
    assert len(emu.requests) == 2


def read_log_until(proc: subprocess.Popen[str], text: str) -> str:
    """The server's stderr up to the first line with *text* (bounded by the process's own end)."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"the server never logged {text!r}:\n" + "".join(seen))


def test_over_stdio_the_process_exits_within_the_grace_with_a_run_cut_and_its_partial_delivered() -> None:
    grace = 4.0
    emu = Emulator()
    emu.add_fault(Fault.stall(after_events=3, seconds=60))  # the run goes silent: the grace cuts it
    with emu, stdio_call_at(emu, "thinking", "--shutdown-grace", f"{grace:g}") as proc:
        proc.terminate()
        signalled = time.monotonic()
        answer = read_until(proc, lambda m: m.get("id") == 1)
        code = proc.wait(timeout=30)
        took = time.monotonic() - signalled

    assert code == 0
    assert took < grace + EXIT_SLACK, f"exited {took:.1f} s after SIGTERM with a grace of {grace:g} s"
    assert "cancelled: the server is shutting down" in json.dumps(answer["result"])


def test_over_stdio_a_request_after_sigterm_gets_an_error_answer_and_no_traceback() -> None:
    with Emulator(code_pause=1.5) as emu, stdio_call_at(emu, "running code", "--shutdown-grace", "20") as proc:
        proc.terminate()
        before = read_log_until(proc, "input ended")
        send(proc, {**CALL, "id": 2})  # after SIGTERM: refused, with an answer
        late = read_until(proc, lambda m: m.get("id") == 2)
        answer = read_until(proc, lambda m: m.get("id") == 1)
        code = proc.wait(timeout=30)
        assert proc.stderr is not None
        log = before + proc.stderr.read()

    assert late["error"]["code"] == -32000 and "shutting down" in late["error"]["message"]
    assert SEED_ANSWER in json.dumps(answer["result"])
    assert code == 0
    assert "Traceback" not in log and "Exception in thread" not in log
    assert len(emu.requests) == 1


def test_over_stdio_a_clients_response_after_sigterm_is_passed_on_not_refused_as_a_request() -> None:
    """A response (an id, no method: the answer to a server's ping or elicitation) is no new request."""
    with Emulator(code_pause=1.5) as emu, stdio_call_at(emu, "running code", "--shutdown-grace", "20") as proc:
        proc.terminate()
        read_log_until(proc, "input ended")
        send(proc, {"jsonrpc": "2.0", "id": "server-ping-1", "result": {}})
        send(proc, {**CALL, "id": 2})  # refused: its answer comes after anything said about the response
        first = read_until(proc, lambda m: m.get("id") in ("server-ping-1", 2))
        answer = read_until(proc, lambda m: m.get("id") == 1)
        code = proc.wait(timeout=30)

    assert first["id"] == 2 and first["error"]["code"] == -32000  # nothing was said about the response
    assert SEED_ANSWER in json.dumps(answer["result"])
    assert code == 0


async def test_during_the_drain_only_a_new_call_gets_503_and_nothing_starts_for_it() -> None:
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}

    def request(request_id: int, method: str, params: dict[str, object]) -> dict[str, object]:
        return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}

    with Emulator(code_pause=1.5) as emu, serve(emu, "--shutdown-grace", "20", "--max-wait", "0.3") as server:
        async with httpx2.AsyncClient(timeout=30) as http:
            with anyio.fail_after(30):
                async with Client(streamable_http_client(server.url)) as client:
                    first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                run_id = first.structured_content["run_id"]  # type: ignore[index]
                server.terminate()
                await wait_for_log(server, "shutting down")
                new = await http.post(
                    server.url, json=request(1, "tools/call", {"name": TOOL_NAME, "arguments": {"question": "1+1?"}}),
                    headers=headers,
                )  # fmt: skip
                listing = await http.post(server.url, json=request(2, "tools/list", {}), headers=headers)
                polled = []
                while not polled or '"status":"running"' in polled[-1].text.replace(" ", ""):
                    # Collected until delivered: the server then exits at once, not at the end of the grace.
                    polled.append(await http.post(
                        server.url, json=request(3, "tools/call", {"name": RESULT_TOOL_NAME, "arguments": {"run_id": run_id}}),
                        headers=headers,
                    ))  # fmt: skip
            code = await anyio.to_thread.run_sync(server.wait)

    assert new.status_code == 503 and new.headers["retry-after"] == "1"
    assert new.json()["error"]["code"] == -32000 and "Nothing was started or billed" in new.json()["error"]["message"]
    assert listing.status_code == 200 and {poll.status_code for poll in polled} == {200}
    assert SEED_ANSWER in polled[-1].text  # the run that began before the drain was delivered in it
    assert len(emu.requests) == 1  # the refused call never reached the service
    assert code == 0


def test_over_stdio_a_cancelled_request_is_not_waited_for_at_the_end() -> None:
    emu = Emulator()
    emu.add_fault(Fault.stall(after_events=3, seconds=60))
    with emu, stdio_call_at(emu, "thinking") as proc:
        send(proc, {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
        assert proc.stdin is not None
        proc.stdin.close()  # end of input: nothing is left to answer
        code = proc.wait(timeout=30)
        assert proc.stderr is not None
        log = proc.stderr.read()

    assert code == 0
    assert "input ended" in log and "still unanswered" not in log
