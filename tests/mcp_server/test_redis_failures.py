"""Redis failing under replicas: not answering, or restarted.

A Redis that takes connections and never answers, or takes none at all (a real loopback socket):
calls still run on their replica, a handle says the store is unavailable, collecting another
replica's run says so, nothing waits on the store past its timeouts (a shutdown ends within the
grace), and the failure shows in the log and in ``/metrics``. A Redis restarted on the same port
(Debian's ``redis-server``): the replicas listen for cancels again, so a legacy cancel that lands on
the wrong replica still stops the call.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..redis_server import free_port, redis_process
from .test_drain import EXIT_SLACK
from .test_replicas import assert_store_unavailable_shown, call_until, client, collect, legacy_session, replicas

pytestmark = pytest.mark.anyio


@contextmanager
def never_answers() -> Iterator[str]:
    """A listener that accepts every connection, reads nothing and writes nothing."""
    with ExitStack() as stack:
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:  # closed: the test is over
                    return
                stack.callback(conn.close)

        threading.Thread(target=accept, daemon=True).start()
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        listener.shutdown(socket.SHUT_RDWR)


@contextmanager
def never_accepts() -> Iterator[str]:
    """A listener that accepts nothing, its backlog already full: a connection never completes."""
    with ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(4):  # fill the accept queue (what is beyond it waits for a SYN answer that never comes)
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex(address)
        yield f"redis://127.0.0.1:{address[1]}/0"


@pytest.mark.parametrize("silent", [never_answers, never_accepts], ids=["never-answers", "never-accepts"])
async def test_with_a_redis_that_never_answers_calls_run_handles_say_so_nothing_hangs_and_metrics_show_it(
    silent: object,
) -> None:
    grace = 4.0
    with silent() as url, Emulator(code_pause=1.0) as emu:  # type: ignore[operator]
        options = ("--max-wait", "0.3", "--shutdown-grace", f"{grace:g}")
        with replicas(emu, url, *options, count=1) as (server,), anyio.fail_after(60):
            async with client(server.url) as c:
                first = await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                run_id = first.structured_content["run_id"]  # type: ignore[index]
                answer = await collect(server.url, run_id)
                with anyio.fail_after(10):  # the store's answer timeout, not a hang
                    elsewhere = await c.call_tool(RESULT_TOOL_NAME, {"run_id": "run_started_on_another_replica"})
            async with httpx2.AsyncClient(timeout=10) as http:
                metrics = (await http.get(server.root + "/metrics")).text
            server.terminate()
            signalled = anyio.current_time()
            code = await anyio.to_thread.run_sync(server.wait)
            took = anyio.current_time() - signalled

    assert_store_unavailable_shown(first, answer, elsewhere, metrics, server.output())
    assert code == 0 and took < grace + EXIT_SLACK, f"exited {took:.1f} s after SIGTERM with a grace of {grace:g} s"


async def test_after_redis_restarts_a_legacy_cancel_sent_to_another_replica_still_stops_the_call(
    redis_binary: str, tmp_path: Path
) -> None:
    port = free_port()
    emu = Emulator()
    emu.add_fault(Fault.stall(after_events=3, seconds=60))
    with ExitStack() as first_redis:
        url = first_redis.enter_context(redis_process(redis_binary, tmp_path / "before", port))
        with emu, replicas(emu, url) as (a, b), anyio.fail_after(60):
            async with httpx2.AsyncClient(timeout=30) as http:
                await anyio.to_thread.run_sync(a.wait_for, "listening for cancels")
                headers = await legacy_session(http, a.url)
                stream, lines = await call_until(http, a.url, headers, 7, "thinking")
                first_redis.close()  # Redis stops...
                with redis_process(redis_binary, tmp_path / "after", port):  # ...and starts again, empty
                    await anyio.to_thread.run_sync(a.wait_for, "listening again for cancels")
                    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
                    response = await http.post(b.url, json=cancel, headers=headers)  # the wrong replica
                    closed = await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 1.0)
                    rest = [line async for line in lines]
                    await stream.__aexit__(None, None, None)

    assert response.status_code == 202
    assert closed, "the upstream call on A was still open a second after the cancel reached B"
    assert len(emu.requests) == 1
    assert "forwarded by another replica" in a.output()
    answer = json.loads(next(line for line in rest if line.startswith("data:") and '"id":7' in line)[5:])
    assert "cancel" in json.dumps(answer).lower()
