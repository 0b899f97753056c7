"""What a hostile or careless client or operator meets: bodies nested too deep, doubled credentials,
short shared tokens. Each is refused with a clear answer and no traceback."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from mcp.server.mcpserver import MCPServer

from mcp_server.__main__ import main
from mcp_server.http.app import build_http_app
from mcp_server.http.auth import Credentials
from qwen_ci_tool.testing import Emulator

from ..conftest import PLANTED_KEY
from .processes import http_server_process

pytestmark = pytest.mark.anyio

TOKEN = "shared-token-0123456789"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def asgi_client(server: MCPServer, credentials: Credentials | None = None) -> httpx.AsyncClient:
    app = build_http_app(server, host="127.0.0.1", credentials=credentials)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_a_body_nested_too_deep_gets_400_with_a_json_rpc_error_and_no_traceback(emu: Emulator) -> None:
    with http_server_process("--base-url", emu.base_url, DASHSCOPE_API_KEY=PLANTED_KEY) as server:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(server.url, content=b"[" * 5000 + b"]" * 5000, headers=HEADERS)
            health = await http.get(server.root + "/healthz")
        log = server.output()

    assert response.status_code == 400
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None and body["error"]["code"] == -32700
    assert "nested too deeply" in body["error"]["message"]
    assert health.status_code == 200
    assert "Traceback" not in log and "RecursionError" not in log


async def test_a_request_with_two_authorization_headers_is_refused(make_server: Callable[..., MCPServer]) -> None:
    async with asgi_client(make_server(), Credentials.single(TOKEN)) as http:
        both = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer something-else")]
        doubled = await http.post("/mcp", json={}, headers=[*HEADERS.items(), *both])
        metrics = await http.get("/metrics", headers=both)
        once = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert doubled.status_code == 400 and "exactly one 'Authorization" in doubled.json()["error_description"]
    assert metrics.status_code == 400
    assert once.status_code == 200 and "qwen_ci_http_unauthorized_total 2.0" in once.text


@pytest.mark.parametrize("token", ["a", "fifteen-chars-x"])
def test_a_shared_token_shorter_than_16_characters_is_refused_with_the_fix(
    token: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN", token)
    code = main(["--transport", "streamable-http", "--host", "0.0.0.0"])

    err = capsys.readouterr().err
    assert code == 2
    assert "shorter than 16 characters" in err and "secrets.token_urlsafe(32)" in err
    assert len(token) == 1 or token not in err


def test_a_shared_token_of_16_characters_is_accepted_by_the_check(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN", "sixteen-chars-xy")
    code = main(["--transport", "streamable-http", "--port", "70000"])  # stops at the next check, the port

    assert code == 2 and "--port must be between" in capsys.readouterr().err
