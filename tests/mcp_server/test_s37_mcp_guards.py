"""Quiet effects of the MCP server's own modules left unguarded by the suite (the s37 hand sweep of ``_stdio``,
``__main__``, ``_server``, ``_ops``, ``_fit``, ``_logs`` and ``http``). Each test was checked to fail with the
break it names and to pass without it."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from mcp_server.__main__ import main

from . import test_command_guards
from .test_audit_guards import CALL, CANCEL, WaitingApp, gate, headers
from .test_command_guards import TOKEN

serve = test_command_guards.serve  # its fixture: both servers faked, what each was given recorded


def test_a_shared_token_from_the_environment_is_taken_without_the_line_break_a_secret_file_leaves(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared token is read trimmed: a token mounted from a file keeps working with its trailing newline."""
    # Break: `token.strip()` dropped in _credentials: the newline makes the token "not printable", exit 2.
    seen = serve()
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN", f"  {TOKEN}\n")
    assert main(["--transport", "streamable-http", "--host", "0.0.0.0"]) == 0
    assert seen[0]["credentials"].client_for(TOKEN.encode()) == "default"


def test_the_highest_tcp_port_is_a_port_the_http_server_may_listen_on(serve: Any) -> None:
    """--port takes every TCP port, 65535 included."""
    # Break: the range check `0 <= port <= 65535` read as `< 65535`: the last port is refused with exit 2.
    seen = serve()
    assert main(["--transport", "streamable-http", "--port", "65535"]) == 0
    assert seen[0]["port"] == 65535


@pytest.mark.anyio
async def test_a_cancel_of_request_id_0_reaches_its_call() -> None:
    """A client's cancel reaches its call whatever the request id, 0 (the Python client's first id) included."""
    # Break: `if request_id is not None` read as a truth test in the gate: the cancel of id 0 is dropped.
    app = WaitingApp()
    async with gate(app) as http, anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            tg.start_soon(lambda: http.post("/mcp", content=json.dumps({**CALL, "id": 0}), headers=headers("s")))
            await anyio.wait_all_tasks_blocked()  # the call waits in the app
            cancel = {**CANCEL, "params": {"requestId": 0}}
            answered = await http.post("/mcp", content=json.dumps(cancel), headers=headers("s"))
            [[call]] = app.waiting.values()
            assert answered.status_code == 202 and call.aborted
