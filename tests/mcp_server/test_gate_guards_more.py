"""The HTTP front's conditions, one side at a time (issue 26, KINDS=more): which requests the gate takes for
a new run, what it passes through untouched, and what a refused token file or a taken port says."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.types import Message

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from mcp_server.http.app import ListenError, listening_socket, security_settings
from mcp_server.http.auth import TokenFileError, parse_token_file
from mcp_server.http.cancels import Exchanges
from mcp_server.http.gate import CallGate

from .test_transport_guards_http import App, gate, parse_token_file_text

pytestmark = pytest.mark.anyio


def request(method: str, request_id: int = 1, **params: Any) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params:
        message["params"] = params
    return json.dumps(message).encode()


async def test_while_draining_only_a_tools_call_of_the_run_tool_is_refused() -> None:
    passed = [
        request("ping"),  # no params at all
        request("prompts/get", name=TOOL_NAME),  # names the tool, but starts no run
        request("tools/call", name=RESULT_TOOL_NAME, arguments={"run_id": "run_x"}),
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": [TOOL_NAME]}).encode(),
    ]
    app = App()
    async with gate(app, ready=False) as http:
        statuses = [(await http.post("/mcp", content=body)).status_code for body in passed]
        refused = await http.post("/mcp", content=request("tools/call", name=TOOL_NAME, arguments={}))

    assert statuses == [200] * len(passed) and app.bodies == passed
    assert refused.status_code == 503


async def test_a_cancel_of_an_unknown_request_reaches_the_app_when_there_is_no_replica_to_forward_it_to() -> None:
    cancel = json.dumps(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99, "reason": "x"}}
    ).encode()
    app = App()
    async with gate(app) as http:
        response = await http.post("/mcp", content=cancel)
    assert response.status_code == 200 and app.bodies == [cancel]


async def test_the_lifespan_passes_through_the_gate_to_the_app() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError(f"the gate answered a lifespan itself: {message}")

    asgi = CallGate(app, exchanges=Exchanges(), ready=lambda: True, body_limit=1 << 20, path="/mcp")
    await asgi({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert seen == ["lifespan"]


@pytest.mark.parametrize("control", ["\x07", "\x7f", "\x1b"])
def test_a_token_with_a_control_character_is_refused(control: str) -> None:
    with pytest.raises(TokenFileError, match="must be printable ASCII without spaces"):
        parse_token_file_text(f"alice:token-0123{control}456789abcdef\n")


def test_a_token_file_that_cannot_be_read_is_named_with_the_reason_in_words(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tokens"
    with pytest.raises(TokenFileError) as caught:
        parse_token_file(missing)
    assert str(caught.value) == f"cannot read the auth token file {missing}: No such file or directory."


def test_a_taken_port_is_named_with_the_reason_in_words() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError) as caught:
            listening_socket(uvicorn.Config(app=None, host="127.0.0.1", port=port))
    message = str(caught.value)
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}: Address already in use. Stop the process")
    assert "[Errno" not in message


def test_an_empty_allowed_host_allows_no_empty_host_header() -> None:
    settings = security_settings("0.0.0.0", ["", "mcp.example.com"])
    assert settings is not None
    assert "" not in settings.allowed_hosts and ":*" not in settings.allowed_hosts
    assert "mcp.example.com" in settings.allowed_hosts
