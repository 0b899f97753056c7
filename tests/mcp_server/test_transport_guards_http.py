"""What the HTTP front answers by itself, in process (the gate and the bearer check before the MCP app):
each answer is a whole JSON-RPC error with the headers a client acts on, and what is not the gate's
business reaches the app untouched."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mcp_server import TOOL_NAME
from mcp_server._logs import MASK, Redactor
from mcp_server._ops import Ops, serving
from mcp_server.http.app import _connections_wait, security_settings
from mcp_server.http.auth import Credentials, TokenFileError, parse_token_file
from mcp_server.http.cancels import Exchanges
from mcp_server.http.gate import CallGate
from mcp_server.http.routes import OpsMiddleware

from .test_ops import metric_samples, value

pytestmark = pytest.mark.anyio

TOKEN = "shared-token-0123456789"
CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": TOOL_NAME, "arguments": {}}}


class App:
    """Answers 200 with its own session id when *session* is set; records what reached it."""

    def __init__(self, session: bytes | None = None) -> None:
        self.bodies: list[bytes] = []
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        headers = [(b"mcp-session-id", self.session)] if self.session else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"app"})


def client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://127.0.0.1")


def gate(app: App, *, ready: bool = True) -> httpx.AsyncClient:
    return client(CallGate(app, exchanges=Exchanges(), ready=lambda: ready, body_limit=1 << 20, path="/mcp"))


def error_of(response: httpx.Response) -> tuple[object, int, str]:
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    return body["id"], body["error"]["code"], body["error"]["message"]


async def test_a_new_call_while_draining_gets_a_whole_json_rpc_error_with_retry_after_and_its_id() -> None:
    app = App()
    async with gate(app, ready=False) as http:
        response = await http.post("/mcp", content=json.dumps(CALL))
    assert response.status_code == 503
    request_id, code, message = error_of(response)
    assert (request_id, code) == (7, -32000) and "shutting down" in message
    assert response.headers["retry-after"] == "1" and response.headers["connection"] == "close"
    assert "allow" not in response.headers
    assert app.bodies == []


async def test_a_get_of_the_mcp_path_gets_405_saying_post_and_no_retry_after() -> None:
    async with gate(App()) as http:
        response = await http.get("/mcp")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    request_id, code, message = error_of(response)
    assert (request_id, code) == (None, -32600) and "POST" in message and "stream" in message
    assert "retry-after" not in response.headers


async def test_a_body_nested_too_deep_gets_a_parse_error_saying_so() -> None:
    async with gate(App()) as http:
        response = await http.post("/mcp", content=b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    request_id, code, message = error_of(response)
    assert (request_id, code) == (None, -32700) and "nested too deeply" in message
    assert "retry-after" not in response.headers and "allow" not in response.headers


@pytest.mark.parametrize("body", [b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}]', b"not json", b"{}"])
async def test_what_is_no_single_json_rpc_message_reaches_the_app_untouched_even_while_draining(body: bytes) -> None:
    app = App()
    async with gate(app, ready=False) as http:
        response = await http.post("/mcp", content=body)
    assert response.status_code == 200 and app.bodies == [body]


async def test_a_body_sent_in_parts_reaches_the_app_whole() -> None:
    app = App()

    async def parts() -> Any:
        text = json.dumps({**CALL, "method": "tools/list"}).encode()
        yield text[:10]
        yield text[10:]

    async with gate(app) as http:
        response = await http.post("/mcp", content=parts())
    assert response.status_code == 200 and json.loads(app.bodies[0])["method"] == "tools/list"


async def test_initialize_is_answered_with_a_session_id_unless_the_app_set_its_own() -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with gate(App()) as http:
        minted = await http.post("/mcp", content=json.dumps(initialize))
        other = await http.post("/mcp", content=json.dumps({**initialize, "method": "tools/list"}))
    async with gate(App(session=b"the-apps-own")) as http:
        kept = await http.post("/mcp", content=json.dumps(initialize))
    assert len(minted.headers["mcp-session-id"]) >= 32
    assert "mcp-session-id" not in other.headers
    assert kept.headers.get_list("mcp-session-id") == ["the-apps-own"]


async def test_the_bearer_refusals_say_what_to_send() -> None:
    asgi = OpsMiddleware(App(), Ops(), Credentials.single(TOKEN))
    async with client(asgi) as http:
        missing = await http.post("/mcp", content=b"{}")
        two = await http.post(
            "/mcp", content=b"{}", headers=[("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer x")]
        )
    assert missing.status_code == 401
    said = missing.json()["error"]["message"]
    assert "Send 'Authorization: Bearer <token>' with a token this server accepts" in said
    assert two.status_code == 400 and two.json()["error"] == "invalid_request"
    assert "exactly one 'Authorization: Bearer <token>' header" in two.json()["error_description"]


@pytest.mark.parametrize(
    ("allowed", "patterns"),
    [
        ("[fd00::5]", ["[fd00::5]", "[fd00::5]:*"]),
        ("[fd00::5]:8443", ["[fd00::5]:8443"]),
        ("fd00::5", ["[fd00::5]", "[fd00::5]:*"]),
        ("mcp.example.com", ["mcp.example.com", "mcp.example.com:*"]),
        ("mcp.example.com:8443", ["mcp.example.com:8443"]),
    ],
)
def test_an_allowed_host_is_matched_with_any_port_unless_it_names_one(allowed: str, patterns: list[str]) -> None:
    settings = security_settings("127.0.0.1", [allowed])
    assert settings is not None
    extra = [p for p in settings.allowed_hosts if "fd00" in p or "example" in p]
    assert extra == patterns


@pytest.mark.parametrize(("left", "wait"), [(10.0, 2.0), (1.2, 1.0), (0.2, 0.01), (0.0, 0.01)])
def test_the_wait_for_open_connections_fits_what_is_left_of_the_grace_and_is_never_zero(
    left: float, wait: float
) -> None:
    assert _connections_wait(left) == pytest.approx(wait)


def test_a_reload_takes_the_new_token_file_and_a_bad_one_keeps_the_tokens_in_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_server")
    path = tmp_path / "tokens"
    path.write_text("alice:alice-token-0123456789\n")
    credentials = Credentials.from_file(path)
    path.write_text("bob:bob-token-0123456789abc\ncarol:carol-token-0123456789\n")
    assert credentials.reload() is True
    assert credentials.client_for(b"bob-token-0123456789abc") == "bob"
    assert credentials.client_for(b"alice-token-0123456789") is None
    path.write_text("dave:short\n")
    assert credentials.reload() is False
    assert credentials.names == ["bob", "carol"]
    assert Credentials.single(TOKEN).reload() is False  # no file to re-read
    messages = [r.getMessage() for r in caplog.records]
    assert f"auth token file {path} reloaded: 2 clients (bob, carol)" in messages
    assert any(m.startswith("auth token file not reloaded, the previous tokens stay in use:") for m in messages)
    assert not any("0123456789" in m for m in messages)


def test_a_token_may_contain_a_colon_the_name_ends_at_the_first() -> None:
    assert parse_token_file_text("alice:tok:en-0123456789abcdef\n") == {"tok:en-0123456789abcdef": "alice"}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("alice:\n", "expected 'name:token'"),
        ("alice:t\u00f6ken-0123456789abcdef\n", "must be printable ASCII without spaces"),
        ("alice:short\n", "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"),
    ],
)
def test_a_bad_line_of_a_token_file_is_refused_saying_why(content: str, said: str) -> None:
    with pytest.raises(TokenFileError, match=re.escape(said)):
        parse_token_file_text(content)


def test_a_token_file_that_is_not_utf8_is_refused_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_bytes("alice:t\u00f6ken-0123456789abcdef\n".encode("latin-1"))
    with pytest.raises(TokenFileError, match="is not UTF-8 text"):
        parse_token_file(path)


def parse_token_file_text(content: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokens"
        path.write_text(content, encoding="utf-8")
        return parse_token_file(path)


async def test_a_cancel_aborts_only_the_call_with_its_request_id_and_abort_all_says_why() -> None:
    exchanges = Exchanges()
    with exchanges.open("alice", 1) as first, exchanges.open("alice", 2) as second:
        assert exchanges.cancel("alice", 1, "the client cancelled the call") == 1
        assert exchanges.cancel("alice", 3, "no such call") == 0
        assert (first.reason, second.reason) == ("the client cancelled the call", None)
        exchanges.abort_all("the server is shutting down")
        assert second.reason == "the server is shutting down"


async def test_the_operators_answers_are_json_with_their_length_and_never_cached() -> None:
    async with client(OpsMiddleware(App(), Ops(), Credentials.single(TOKEN))) as http:
        for path in ("/healthz", "/readyz", "/mcp"):
            response = await http.get(path)
            assert response.headers["content-type"] == "application/json"
            assert int(response.headers["content-length"]) == len(response.content)
            assert response.headers["cache-control"] == "no-store"


def test_a_host_name_bind_allows_that_name_with_dns_rebinding_protection_on() -> None:
    settings = security_settings("mcp.internal")
    assert settings is not None and settings.enable_dns_rebinding_protection is True
    assert "mcp.internal" in settings.allowed_hosts and "mcp.internal:*" in settings.allowed_hosts


async def test_a_new_call_over_the_body_limit_in_parts_goes_to_the_apps_size_check_even_while_draining() -> None:
    app = App()
    body = json.dumps({**CALL, "params": {**CALL["params"], "arguments": {"question": "x" * 600}}}).encode()

    async def parts() -> Any:
        for start in range(0, len(body), 400):  # each part under the limit, the whole over it
            yield body[start : start + 400]

    asgi = CallGate(app, exchanges=Exchanges(), ready=lambda: False, body_limit=500, path="/mcp")
    async with client(asgi) as http:
        response = await http.post("/mcp", content=parts())
    assert response.status_code == 200 and app.bodies == [body]


def test_a_run_handle_is_counted_for_the_client_it_was_issued_to() -> None:
    # audit 6's m12: the per-client metric is what a team reads to see whose calls outlast --max-wait.
    ops = Ops()
    with serving("alice", "req-1"):
        ops.handle_issued("run-1")
    samples = metric_samples(ops.metrics.exposition().decode())
    assert value(samples, "qwen_ci_run_handles_total", client="alice") == 1
    assert value(samples, "qwen_ci_run_handles_total", client="local") == 0


def test_a_secret_that_begins_with_another_is_masked_whole_in_log_lines() -> None:
    # audit 6's m16: a token file may hold a token that extends another; no tail of either may show.
    short, long = "sk-abc-0123456789", "sk-abc-0123456789-extended"
    for redact in (Redactor([short], lambda: [long]), Redactor([long], lambda: [short])):
        line = redact(f"tokens {long} and {short}.")
        assert line == f"tokens {MASK} and {MASK}.", line
