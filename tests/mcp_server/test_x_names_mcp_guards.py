"""Behaviours of the MCP server that hand breaks of kinds no mutation tool makes left unguarded (issue 26, helper
x-names-mcp running the rest of hp-mcp's breaks). Each test fails with its break."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server

from ..conftest import PLANTED_KEY
from .test_audit_guards import CALL, WaitingApp, gate, headers

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
