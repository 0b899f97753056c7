"""Quiet effects of the MCP server's own modules left unguarded by the suite (the s37 hand sweep of ``_stdio``,
``__main__``, ``_server``, ``_ops``, ``_fit``, ``_logs`` and ``http``). Each test was checked to fail with the
break it names and to pass without it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import TOOL_NAME
from mcp_server.__main__ import main
from mcp_server._ops import serving
from mcp_server.http.auth import Credentials
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from . import test_command_guards
from .test_audit_guards import CALL, CANCEL, WaitingApp, gate, headers
from .test_command_guards import ALICE, CAROL, TOKEN
from .test_ops import asgi_client, metric_samples, value, write_tokens

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


def test_a_shared_token_with_a_space_inside_is_refused(serve: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A shared token must be printable ASCII without spaces, inside it as well as around it."""
    # Break: the `" " in token` clause dropped from _credentials' check: "shared token ..." is taken.
    seen = serve()
    assert main(["--transport", "streamable-http", "--auth-token", "shared token 0123456789"]) == 2
    assert capsys.readouterr().err == "qwen-ci-mcp: error: the auth token must be printable ASCII without spaces.\n"
    assert seen == []


def test_a_token_file_client_name_is_at_most_64_characters(
    serve: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client name in the token file is 1-64 characters: 64 is taken, 65 is refused naming the line."""
    # Break: the name pattern's repeat `{0,63}` read as `{0,64}`: a 65-character name is taken.
    seen = serve()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{'a' * 64}:{ALICE}\n")
    assert main(["--transport", "streamable-http", "--auth-token-file", str(tokens)]) == 0
    assert seen[0]["credentials"].names == ["a" * 64]
    capsys.readouterr()  # the start lines of the first
    tokens.write_text(f"{'a' * 65}:{ALICE}\n")
    assert main(["--transport", "streamable-http", "--auth-token-file", str(tokens)]) == 2
    assert capsys.readouterr().err == (
        f"qwen-ci-mcp: error: {tokens}, line 1: the client name must be 1-64 letters, digits or '_.@-', "
        "starting with a letter or digit.\n"
    )
    assert len(seen) == 1


def test_localhost_in_capitals_is_loopback_and_needs_no_token(serve: Any) -> None:
    """A loopback host name binds without a token however it is spelled (host names are case-insensitive)."""
    # Break: `host.lower()` dropped in is_loopback: "LOCALHOST" is refused as a public address (exit 2).
    seen = serve()
    assert main(["--transport", "streamable-http", "--host", "LOCALHOST"]) == 0
    assert (seen[0]["host"], seen[0]["credentials"]) == ("LOCALHOST", None)


def test_an_infinite_shutdown_grace_is_refused(serve: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """--shutdown-grace must be finite: a drain that never ends would hang the process."""
    # Break: the check `0 <= grace < inf` read as `<= inf`: "inf" is taken and the server starts.
    seen = serve()
    assert main(["--shutdown-grace", "inf"]) == 2
    assert capsys.readouterr().err.endswith(
        "qwen-ci-mcp: error: --shutdown-grace must be a finite number of seconds >= 0, got inf.\n"
    )
    assert seen == []


def test_the_client_names_of_a_token_file_are_listed_sorted(tmp_path: Path) -> None:
    """Credentials list their client names in order (as the reload log line shows them), whatever the file's order."""
    # Break: `sorted(...)` dropped from Credentials.names: the names come in the file's order.
    credentials = Credentials.from_file(write_tokens(tmp_path / "tokens", zed=CAROL, alice=ALICE))
    assert credentials.names == ["alice", "zed"]


@pytest.mark.anyio
async def test_operator_routes_are_not_stored_by_caches(make_server: Callable[..., MCPServer]) -> None:
    """Health, readiness and metrics answers say `Cache-Control: no-store`: a cache never serves a stale one."""
    # Break: the header's value left stale as "no-cache" in the routes' responses.
    async with asgi_client(make_server()) as http:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await http.get(path)).headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_a_request_with_two_authorization_headers_counts_as_unauthorized(
    make_server: Callable[..., MCPServer],
) -> None:
    """A request refused for sending several Authorization headers is counted with the other refused tokens."""
    # Break: the unauthorized counter's `inc()` dropped on the two-headers refusal (only a wrong token counted).
    bearer = f"Bearer {TOKEN}"
    async with asgi_client(make_server(), Credentials.single(TOKEN)) as http:
        twice = await http.post("/mcp", json={}, headers=[("Authorization", bearer), ("Authorization", bearer)])
        metrics = await http.get("/metrics", headers={"Authorization": bearer})
    assert twice.status_code == 400
    assert value(metric_samples(metrics.text), "qwen_ci_http_unauthorized_total") == 1


@pytest.mark.anyio
async def test_a_run_handle_is_counted_for_the_client_it_was_issued_to(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    """qwen_ci_run_handles_total is labelled with the client served (its token's name), as the calls are."""
    # Break: Ops.handle_issued labels the counter `local` whoever was served.
    server = make_server(max_wait=0.2)
    emu.code_pause = 1.0  # longer than max_wait: the call is answered with a handle
    with serving("alice", "request-1"), anyio.fail_after(20):  # what the HTTP routes set for alice's request
        async with Client(server) as client:
            pending = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
            async with asgi_client(server) as http:
                samples = metric_samples((await http.get("/metrics")).text)
    assert pending.structured_content["status"] == "running"  # type: ignore[index]
    assert value(samples, "qwen_ci_run_handles_total", client="alice") == 1
    assert value(samples, "qwen_ci_run_handles_total", client="local") == 0
