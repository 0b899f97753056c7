"""Behaviours of the MCP server's runs and HTTP layer that `make mutate ... KINDS=names` breaks (a constant, a
class default, a name read swapped) left unguarded (issue 26, helper x-names-runs). Each test fails with its break."""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from starlette.types import Message, Receive, Scope, Send

from mcp_server import TOOL_NAME, create_server
from mcp_server._fit import size_of
from mcp_server._ops import Ops
from mcp_server.http.app import build_http_app
from mcp_server.http.auth import Credentials
from mcp_server.http.cancels import Exchanges
from mcp_server.http.gate import CallGate
from mcp_server.http.routes import OpsMiddleware
from mcp_server.runs import MemoryRunStore, RunRecord
from mcp_server.runs import runner as runner_module
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.results import DEFAULT_MAX_OUTPUT_CHARS, Results
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, synthetic_conversation

from ..conftest import PLANTED_KEY
from .conftest import REPO
from .test_drain_order import NoProgress, calls_in_turn, runner_on
from .test_runs_guards_runner import FailingStore
from .test_tool import text_of
from .test_transport_guards_http import CALL, TOKEN, App, client, error_of, gate

pytestmark = pytest.mark.anyio


async def test_the_servers_own_run_store_keeps_a_thousand_runs_and_the_next_drops_the_oldest_finished() -> None:
    # README: a result is kept --result-ttl seconds after its run ends, "at most 1000 runs" (the runner's own
    # store is a MemoryRunStore with its default bound).
    store = MemoryRunStore(clock=lambda: 2.0)
    for n in range(1000):
        await store.put(
            RunRecord(f"run_{n}", started_at=0.0).advanced(state="finished", result={"content": []}, finished_at=1.0)
        )
    assert len(store) == 1000 and await store.get("run_0") is not None
    await store.put(RunRecord("run_next", started_at=0.0))
    assert len(store) == 1000 and await store.get("run_0") is None and await store.get("run_1") is not None


async def test_a_call_answered_before_its_run_has_begun_says_the_run_is_starting(
    make_server: Callable[..., MCPServer],
) -> None:
    # A wait shorter than the run's first step: the handle is answered from the run's first record.
    async with Client(make_server(max_wait=1e-9)) as client:
        with anyio.fail_after(30):
            answer = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
            assert isinstance(answer.structured_content, dict)
            assert answer.structured_content["status"] == "running"
            assert answer.structured_content["stage"] == "starting"
            assert "now: starting)" in text_of(answer)


def test_a_heartbeat_follows_every_5_s_by_default_as_the_readme_says() -> None:
    # The heartbeat's interval is create_server's default (qwen-ci-mcp has no flag for it); waiting for one in a
    # test would take seconds of wall-clock time, so the documented default is checked where it is set.
    assert inspect.signature(create_server).parameters["heartbeat_interval"].default == 5.0
    assert "a heartbeat follows every 5 s while the service is silent" in " ".join(
        (REPO / "README.md").read_text().split()
    )


async def test_a_result_is_cut_to_40000_characters_by_default_as_the_readme_says() -> None:
    # Three code runs of 30,000 characters each: far more than the default cap, text and record together.
    with Emulator(conversation=synthetic_conversation(200, code_runs=3, code_chars=30_000)) as emu:
        async with Client(create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0)) as client:
            with anyio.fail_after(60):
                answer = await client.call_tool(TOOL_NAME, {"question": "a long computation"})
    assert answer.structured_content is not None and answer.structured_content["truncated"]
    assert "--max-output-chars (40,000)" in text_of(answer)
    assert 30_000 < len(text_of(answer)) + size_of(answer.structured_content) <= 40_000


async def test_the_http_fronts_own_errors_are_sentences_that_say_what_is_wrong_and_end_with_what_to_do() -> None:
    # The message an agent reads, from its first word to its advice (a message wrapped in junk still contains
    # its key words: a substring check alone lets that through).
    async with gate(App()) as http:
        nested = error_of(await http.post("/mcp", content=b"[" * 100_000 + b"]" * 100_000))[2]
        stream = error_of(await http.get("/mcp"))[2]
    assert nested.startswith("The request body is JSON nested too deeply")
    assert nested.endswith("send a flatter JSON-RPC message.")
    assert stream.startswith("This server offers no standalone event stream (GET)")
    assert stream.endswith("every POST is answered on its own stream.")


def test_a_call_the_server_cancelled_tells_the_agent_that_calling_again_may_work_and_is_billed_again() -> None:
    cancelled = Results(DEFAULT_MAX_OUTPUT_CHARS, None).cancelled("the server is shutting down", None, False)
    assert cancelled.is_error
    assert text_of(cancelled).startswith("The qwen_code_interpreter call was cancelled: the server is shutting down.")
    assert "Calling again: may work" in text_of(cancelled) and "billed again" in text_of(cancelled)


async def test_a_refused_token_is_answered_with_the_flags_and_variables_that_set_one_each_by_its_own_name() -> None:
    front = OpsMiddleware(App(), Ops(), Credentials.single(TOKEN))
    async with client(front) as http:
        message = error_of(await http.post("/mcp", content=json.dumps(CALL)))[2]
    assert "(--auth-token or QWEN_CI_MCP_AUTH_TOKEN, or one line of" in message
    assert "--auth-token-file / QWEN_CI_MCP_AUTH_TOKEN_FILE)." in message


async def test_a_client_that_disconnects_in_the_middle_of_its_body_is_not_read_from_again() -> None:
    # ASGI: after http.disconnect nothing more comes (uvicorn answers every later read with another disconnect,
    # at once: a gate that read on would spin the event loop).
    sent: list[Message] = [
        {"type": "http.request", "body": b'{"jsonrpc": "2.0", ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        assert reads <= len(sent), "read again after the client disconnected"
        return sent[reads - 1]

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent to a client that went away")

    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while not got or got[-1]["type"] != "http.disconnect":
            got.append(await receive())

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    with anyio.fail_after(10):
        await CallGate(app, exchanges=Exchanges(), ready=lambda: True, body_limit=1 << 20, path="/mcp")(
            scope, receive, send
        )
    assert reads == 2 and got == sent


async def test_a_body_still_arriving_when_the_server_exits_is_answered_503_saying_to_send_it_again() -> None:
    exchanges = Exchanges()
    front = CallGate(App(), exchanges=exchanges, ready=lambda: True, body_limit=1 << 20, path="/mcp")

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"jsonrpc": "2.0", '
        exchanges.close()  # the server exits while the rest of the body is awaited
        await anyio.sleep_forever()
        yield b""  # pragma: no cover - never reached

    with anyio.fail_after(10):
        async with client(front) as http:
            response = await http.post("/mcp", content=trickle())
    assert response.status_code == 503
    message = error_of(response)[2]
    assert message.startswith("This MCP server is shutting down and takes no new calls; send the request again")


async def test_a_run_cut_short_by_a_drain_says_how_long_running_calls_were_let_finish_in_plain_seconds() -> None:
    # A grace of 4 s leaves the runs 3 s (a quarter is the reserve); the answer reads "3 s", not "3.0 s".
    with Emulator(code_pause=30) as emu, anyio.fail_after(30):
        async with runner_on(emu) as (runner, runs):
            answers = await calls_in_turn(runner, runs, False, "running")
            (running,) = runner.live.values()
            while not running.started:
                await runner.local.wait(running.record.run_id, running.record.version, 5)
            deadline = Deadline(4)
            deadline.runs_end = anyio.current_time()  # the runs' part of the grace is over at once
            await runner.drain(deadline)
    assert text_of(answers["running"]).startswith(
        "The qwen_code_interpreter call was cancelled: the server is shutting down (it let running calls finish "
        "for 3 s)."
    )


async def test_a_server_with_a_thousand_runs_in_progress_refuses_the_next_saying_so() -> None:
    # One slot: the first run holds it, the others wait for it (never sent upstream); each call is answered
    # with its handle at once.
    with Emulator(code_pause=30) as emu, anyio.fail_after(60):
        async with runner_on(emu, max_concurrency=1, max_wait=1e-9) as (runner, runs):
            answers = [await runner.call(SEED_QUESTION, False, NoProgress(), runs) for _ in range(1001)]  # type: ignore[arg-type]
            await runner.drain(0)
    assert [a.is_error for a in answers] == [False] * 1000 + [True]
    assert text_of(answers[-1]).startswith("This server already has 1000 runs in progress, its limit.")


async def test_a_hung_write_to_the_shared_store_is_logged_with_its_timeout_in_plain_seconds(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The timeout is a float of whole seconds (3.0): the log line says "3 s", as every other line does.
    monkeypatch.setattr(runner_module, "_STORE_WRITE_TIMEOUT", 1.0)
    caplog.set_level(logging.INFO, logger="mcp_server")
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu, run_store=FailingStore(hang=True)) as (runner, runs):
            await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            while runner.live:  # the run ends here once its writer has given up on the final record
                await anyio.wait_all_tasks_blocked()
                await anyio.sleep(0)
    assert "run store unavailable (write): no answer within 1 s; runs go on" in caplog.text


async def test_the_http_apps_mcp_path_answers_a_get_with_405_saying_there_is_no_standalone_stream() -> None:
    # The gate of the app qwen-ci-mcp serves watches the app's own MCP path (not only a gate built by hand).
    app = build_http_app(create_server(api_key=PLANTED_KEY), host="127.0.0.1", credentials=None)
    async with client(app) as http:
        response = await http.get("/mcp")
    assert response.status_code == 405
    assert error_of(response)[2].startswith("This server offers no standalone event stream (GET)")
