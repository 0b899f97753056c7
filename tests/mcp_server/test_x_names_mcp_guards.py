"""Behaviours of the MCP server that hand breaks of kinds no mutation tool makes left unguarded (issue 26, helper
x-names-mcp running the rest of hp-mcp's breaks). Each test fails with its break."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server._texts import store_unavailable_text
from mcp_server.http.app import MAX_REQUEST_BODY_BYTES, build_http_app, listening_socket
from mcp_server.http.auth import Credentials
from mcp_server.http.gate import SHUTDOWN_ERROR_CODE
from mcp_server.runs import MemoryRunStore, RunRecord, new_run_id
from mcp_server.runs.records import StoreUnavailable
from qwen_ci_tool._constants import MAX_INPUT_CHARS

from ..conftest import PLANTED_KEY
from .test_audit_guards import CALL, TOKEN, WaitingApp, gate, headers
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def listed_names(**options: float) -> list[str]:
    async with Client(create_server(api_key=PLANTED_KEY, **options)) as client:
        with anyio.fail_after(10):
            return [tool.name for tool in (await client.list_tools()).tools]


async def test_a_server_that_holds_every_call_to_its_end_lists_no_result_tool() -> None:
    # --max-wait 0: no call is ever answered with a handle, so a tool to collect one would only mislead an agent.
    assert await listed_names(max_wait=0) == [TOOL_NAME]
    assert await listed_names(max_wait=0.5) == [TOOL_NAME, RESULT_TOOL_NAME]


async def test_a_cancel_naming_a_calls_id_as_a_string_reaches_the_call_sent_with_it_as_a_number_and_back() -> None:
    # The SDK correlates "7" with 7; so does the HTTP gate that aborts the call's exchange.
    app = WaitingApp()
    calls = {"session-a": {**CALL, "id": 7}, "session-b": {**CALL, "id": "7"}}
    cancels = {"session-a": "7", "session-b": 7}
    async with gate(app) as http, anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            for session, call in calls.items():
                tg.start_soon(lambda s=session, c=call: http.post("/mcp", content=json.dumps(c), headers=headers(s)))
            await app.both.wait()
            for session, request_id in cancels.items():
                cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
                answer = await http.post("/mcp", content=json.dumps(cancel), headers=headers(session))
                [exchange] = app.waiting[session]
                assert answer.status_code == 202 and exchange.aborted


@pytest.mark.parametrize("spec", ["memory", "MEMORY", " Memory\n"])
async def test_the_memory_run_store_is_named_in_any_case_and_with_spaces_around(spec: str) -> None:
    # A value pasted from a YAML file or an environment variable ("Memory", a trailing newline) is still memory.
    async with Client(create_server(api_key=PLANTED_KEY, run_store=spec)) as client:
        with anyio.fail_after(10):
            assert [tool.name for tool in (await client.list_tools()).tools] == [TOOL_NAME, RESULT_TOOL_NAME]


async def test_while_draining_a_new_call_whose_body_is_longer_than_the_longest_question_is_still_refused_with_503(
    make_server: Callable[..., MCPServer],
) -> None:
    # A question of escaped characters takes several bytes per character: the gate reads bodies up to the
    # byte cap, not up to the question's character limit, or such a call would slip past the drain.
    question = "\u00e9" * (MAX_INPUT_CHARS // 5)
    call = {**CALL, "params": {"name": TOOL_NAME, "arguments": {"question": question}}}
    body = json.dumps(call, ensure_ascii=True).encode()
    assert MAX_INPUT_CHARS < len(body) < MAX_REQUEST_BODY_BYTES
    server = make_server()
    app = build_http_app(server, host="127.0.0.1", credentials=Credentials.single(TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        with anyio.fail_after(20):
            await server_runtime(server).drain(0)  # what SIGTERM starts: no new calls from now on
            answer = await http.post("/mcp", content=body, headers={**headers("s"), "Accept": "application/json"})

    assert answer.status_code == 503
    assert answer.json()["id"] == 7 and answer.json()["error"]["code"] == SHUTDOWN_ERROR_CODE


def test_a_restarted_server_listens_again_at_once_on_the_port_its_last_run_closed_connections_on() -> None:
    # The server closes a connection first (keep-alive timeout, shutdown): the port is left in TIME_WAIT for a
    # minute, and a server restarted with the same --port must still bind it.
    first = listening_socket(uvicorn.Config(app=None, host="127.0.0.1", port=0))
    port = first.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as peer:
        accepted, _ = first.accept()
        accepted.close()  # the server's side closes first
        assert peer.recv(1) == b""
    first.close()
    again = listening_socket(uvicorn.Config(app=None, host="127.0.0.1", port=port))
    again.close()


def test_a_run_record_written_by_a_newer_version_with_a_field_this_one_does_not_know_is_still_read() -> None:
    # Replicas of two versions share one Redis store during a rolling deploy.
    record = RunRecord(new_run_id(), started_at=12.5, owner="alice").advanced(state="finished", result={"content": []})
    assert RunRecord.from_json({**record.to_json(), "added_later": {"x": 1}}) == record


class _CountedWaitFails(MemoryRunStore):
    """A shared store holding another replica's run, whose every wait for a newer record fails."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        self.waits += 1
        raise StoreUnavailable("planted wait failure")


async def test_a_poll_whose_store_fails_answers_at_once_without_asking_the_store_again() -> None:
    store = _CountedWaitFails()
    run_id = new_run_id()
    await store.put(RunRecord(run_id, started_at=time.time(), owner="local"))  # another replica's run
    server = create_server(api_key=PLANTED_KEY, run_store=store, max_wait=3, result_ttl=120)
    async with Client(server) as client:
        with anyio.fail_after(10):
            answer = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})

    assert answer.is_error and text_of(answer) == store_unavailable_text(run_id)
    assert store.waits == 1  # not a loop hammering a store that is down until the call's wait is over
