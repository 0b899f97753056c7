"""Behaviours of the MCP server that hand breaks of kinds no mutation tool makes left unguarded (issue 26, helper
x-names-mcp running the rest of hp-mcp's breaks). Each test fails with its break."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server.http.app import MAX_REQUEST_BODY_BYTES, build_http_app, listening_socket
from mcp_server.http.auth import Credentials
from mcp_server.http.gate import SHUTDOWN_ERROR_CODE
from qwen_ci_tool._constants import MAX_INPUT_CHARS

from ..conftest import PLANTED_KEY
from .test_audit_guards import CALL, TOKEN, WaitingApp, gate, headers

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
