"""The real entry point: stdio and streamable-HTTP subprocesses, start-up checks, client config files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from mcp_server.__main__ import build_parser, main
from mcp_server.http.app import MAX_REQUEST_BODY_BYTES, security_settings
from mcp_server.http.auth import is_loopback
from qwen_ci_tool import _constants as C
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .conftest import REPO
from .processes import http_server_process, server_env
from .test_tool import Progress, cancel_while_thinking, text_of

pytestmark = pytest.mark.anyio

TOKEN = "test-token-0123456789"


# --- stdio ---------------------------------------------------------------------------------------


async def test_over_stdio_a_call_with_the_key_and_base_url_from_env_answers_and_reports_progress(
    emu: Emulator, tmp_path: Path
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--max-concurrency", "2"],
        env=server_env(DASHSCOPE_API_KEY=PLANTED_KEY, DASHSCOPE_HTTP_BASE_URL=emu.base_url),
        cwd=REPO,
    )
    progress = Progress()
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            with anyio.fail_after(30):
                result = await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=progress)
        errlog.seek(0)
        log = errlog.read()

    assert not result.is_error
    assert SEED_ANSWER in text_of(result)
    assert result.structured_content["code_runs"][0]["code"] == "123**21"  # type: ignore[index]
    assert {"thinking", "running code #1", "answering"} <= set(progress.messages)
    assert emu.requests[0].headers["authorization"] == f"Bearer {PLANTED_KEY}"
    assert f"at {emu.base_url}" in log
    assert PLANTED_KEY not in log


async def test_over_stdio_without_a_key_the_server_starts_lists_its_tool_and_explains_on_call(tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server"], env=server_env(), cwd=REPO)
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            with anyio.fail_after(30):
                tools = await client.list_tools()
                result = await client.call_tool(TOOL, {"question": SEED_QUESTION})
        errlog.seek(0)
        log = errlog.read()

    assert [tool.name for tool in tools.tools] == [TOOL, "qwen_code_interpreter_result"]
    assert result.is_error and "DASHSCOPE_API_KEY" in text_of(result)
    assert "DASHSCOPE_API_KEY is not set" in log


TOOL = "qwen_code_interpreter"


# --- start-up checks ---------------------------------------------------------------------------


async def test_binding_beyond_loopback_without_a_token_exits_2_with_one_line() -> None:
    with anyio.fail_after(30):
        done = await anyio.run_process(
            [sys.executable, "-m", "mcp_server", "--transport", "streamable-http", "--host", "0.0.0.0"],
            env=server_env(),
            cwd=REPO,
            check=False,
        )

    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "refusing to listen on 0.0.0.0 without a bearer token" in lines[0]
    assert "--auth-token" in lines[0] and "QWEN_CI_MCP_AUTH_TOKEN" in lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-concurrency", "0"], "--max-concurrency must be an integer >= 1"),
        (["--max-output-chars", "10"], "--max-output-chars must be an integer >= 2000"),
        (["--max-wait", "nan"], "--max-wait must be a number of seconds >= 0, and finite"),
        (["--result-ttl", "0"], "--result-ttl must be a number of seconds > 0, and finite"),
        (["--run-store", "foo://x"], "--run-store must be 'memory' or a Redis URL"),
        (["--idle-timeout", "-1"], "--idle-timeout must be a positive number"),
        (["--base-url", "ftp://example.com"], "--base-url must be an http(s) URL"),
        (["--transport", "streamable-http", "--auth-token", "has space"], "printable ASCII without spaces"),
    ],
)
def test_invalid_settings_end_the_process_before_serving_with_exit_code_2_naming_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("qwen-ci-mcp: error: ") and message in err
    assert err.count("\n") == 1
    if message.startswith("--"):  # the flag, never the Python argument (max_wait)
        assert message.split()[0][2:].replace("-", "_") not in err


def test_a_port_already_taken_ends_the_process_with_exit_code_2_and_one_line_saying_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mcp_server", "--emulator", "--transport", "streamable-http", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=server_env(),
            cwd=REPO,
        )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        f"qwen-ci-mcp: error: cannot listen on 127.0.0.1:{port}: Address already in use. "
        "Stop the process that holds the port or choose another with --port (--port 0 takes a free "
        "one and logs it); --host must be an address of this machine."
    ], done.stderr
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.com"))


def test_dns_rebinding_protection_is_left_to_the_sdk_on_loopback_and_explicit_elsewhere() -> None:
    assert security_settings("127.0.0.1") is None
    explicit = security_settings("192.168.1.10", ["mcp.example.com"])
    assert explicit is not None and explicit.enable_dns_rebinding_protection
    assert {"192.168.1.10:*", "mcp.example.com:*", "127.0.0.1:*"} <= set(explicit.allowed_hosts)
    assert "http://mcp.example.com:*" in explicit.allowed_origins
    # Behind a balancer on the default port the Host header carries no port at all.
    assert {"mcp.example.com", "192.168.1.10"} <= set(explicit.allowed_hosts)
    assert "https://mcp.example.com" in explicit.allowed_origins
    wildcard = security_settings("0.0.0.0")
    assert wildcard is not None and "0.0.0.0:*" not in wildcard.allowed_hosts


@pytest.mark.parametrize("name", ["claude_desktop_config.json", "cursor_mcp.json"])
def test_the_client_config_examples_start_this_server_with_the_key_in_env(name: str) -> None:
    config = json.loads((REPO / "examples" / name).read_text())
    (entry,) = config["mcpServers"].values()

    assert entry["command"] == "qwen-ci-mcp"
    build_parser().parse_args(entry["args"])  # exits on an unknown or invalid flag
    assert set(entry["env"]) == {"DASHSCOPE_API_KEY"}


async def test_the_python_client_example_runs_against_the_emulator() -> None:
    with anyio.fail_after(40):
        done = await anyio.run_process(
            [sys.executable, str(REPO / "examples" / "mcp_client.py"), "--emulator"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert SEED_ANSWER in done.stdout.decode()
    assert "running code #1" in done.stderr.decode()
    assert (
        "tool qwen_code_interpreter: 'Qwen code interpreter', read-only, icons: image/png, image/svg+xml"
        in done.stderr.decode()
    )


# --- streamable HTTP -----------------------------------------------------------------------------


class HTTPServer:
    def __init__(self, url: str, emu: Emulator) -> None:
        self.url = url
        self.emu = emu


@pytest.fixture(scope="module")
def http_server() -> Iterator[HTTPServer]:
    """``qwen-ci-mcp --transport streamable-http`` on a free loopback port, with a token from the env."""
    with (
        Emulator() as emu,
        http_server_process(
            "--base-url",
            emu.base_url,
            "--max-retries",
            "0",
            DASHSCOPE_API_KEY=PLANTED_KEY,
            QWEN_CI_MCP_AUTH_TOKEN=TOKEN,
        ) as server,
    ):
        yield HTTPServer(server.url, emu)


def authorized(token: str = TOKEN) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}"])
def test_over_http_a_request_without_the_right_bearer_token_gets_401(
    http_server: HTTPServer, authorization: str | None
) -> None:
    headers = dict(HEADERS, **({"Authorization": authorization} if authorization else {}))
    response = httpx.post(http_server.url, json=INIT, headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]  # a JSON-RPC error, which MCP clients show
    assert error["code"] == -32001 and "QWEN_CI_MCP_AUTH_TOKEN" in error["message"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("token", [None, "wrong-token-0123456789"], ids=["no-token", "wrong-token"])
async def test_an_mcp_client_with_no_or_the_wrong_token_is_told_how_to_send_one(
    http_server: HTTPServer, mode: str, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http_server.emu.reset()
    with anyio.fail_after(30), pytest.raises(BaseExceptionGroup) as refused:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(http_server.url, http_client=http), mode=mode) as client,
        ):
            await client.call_tool(TOOL, {"question": SEED_QUESTION})
    (error,) = _leaves(refused.value)
    said = str(error)  # what the client's caller reads (the SDK raises it inside its task groups)
    assert isinstance(error, MCPError) and ("sent was not accepted" if token else "is needed") in said, said
    assert "Authorization: Bearer <token>" in said and "QWEN_CI_MCP_AUTH_TOKEN" in said
    assert http_server.emu.requests == []


def test_over_http_a_foreign_host_header_is_refused_even_with_the_token(http_server: HTTPServer) -> None:
    headers = dict(HEADERS, Authorization=f"Bearer {TOKEN}", Host="evil.example:8000")
    response = httpx.post(http_server.url, json=INIT, headers=headers, timeout=10)
    assert response.status_code == 421


def test_over_http_an_oversized_body_is_refused(http_server: HTTPServer) -> None:
    body = json.dumps({**INIT, "padding": "x" * (MAX_REQUEST_BODY_BYTES + 1)})
    headers = dict(HEADERS, Authorization=f"Bearer {TOKEN}")
    response = httpx.post(http_server.url, content=body, headers=headers, timeout=30)
    assert response.status_code == 413


def test_over_http_the_longest_question_fits_the_body_cap_however_it_is_escaped(http_server: HTTPServer) -> None:
    # 500,000 characters outside the BMP, each escaped as a surrogate pair: 12 bytes a character.
    question = "\N{GRINNING FACE}" * C.MAX_INPUT_CHARS
    call = {
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": TOOL, "arguments": {"question": question}},
    }  # fmt: skip
    body = json.dumps(call, ensure_ascii=True)
    assert len(body) > 6_000_000
    headers = dict(HEADERS, Authorization=f"Bearer {TOKEN}", **{"MCP-Protocol-Version": "2025-11-25"})
    http_server.emu.reset()
    response = httpx.post(http_server.url, content=body, headers=headers, timeout=60)

    assert response.status_code == 200, response.text[:500]
    assert '"id":7' in response.text and '"result"' in response.text
    assert '"isError":true' not in response.text.replace(" ", "")
    assert len(http_server.emu.requests) == 1  # the question reached the service


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_over_http_with_the_token_a_call_answers_with_progress(http_server: HTTPServer, mode: str) -> None:
    http_server.emu.reset()
    progress = Progress()
    async with (
        authorized() as http,
        Client(streamable_http_client(http_server.url, http_client=http), mode=mode) as client,
    ):
        with anyio.fail_after(30):
            result = await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=progress)

    assert not result.is_error
    assert result.structured_content["answer"].endswith(SEED_ANSWER)  # type: ignore[index]
    assert {"thinking", "running code #1", "answering"} <= set(progress.messages)


async def test_over_http_cancelling_the_call_closes_the_upstream_connection(http_server: HTTPServer) -> None:
    emu = http_server.emu
    emu.reset()
    emu.add_fault(Fault.stall(after_events=3, seconds=30))
    async with authorized() as http, Client(streamable_http_client(http_server.url, http_client=http)) as client:
        with anyio.fail_after(20):
            # One upstream connection while thinking (the stalled stream), none once cancelled.
            await cancel_while_thinking(client, emu)


def test_over_http_a_standalone_event_stream_is_refused_with_405_at_once(http_server: HTTPServer) -> None:
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {TOKEN}", "Mcp-Session-Id": "a-session"}
    response = httpx.get(http_server.url, headers=headers, timeout=10)  # the SDK would hold it open, idle

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_over_http_a_legacy_client_with_one_connection_is_not_blocked_by_its_event_stream(
    http_server: HTTPServer,
) -> None:
    # A handshake-era client opens a standalone stream once it has a session id: held open, it took
    # one connection of the client's pool for the client's whole life, and calls waited for another.
    one = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, limits=one) as http,
        Client(streamable_http_client(http_server.url, http_client=http), mode="legacy") as client,
    ):
        with anyio.fail_after(20):
            first = await client.call_tool(TOOL, {"question": SEED_QUESTION})
            second = await client.call_tool(TOOL, {"question": SEED_QUESTION})

    assert SEED_ANSWER in text_of(first) and SEED_ANSWER in text_of(second)


def test_over_http_a_body_over_the_readmes_6_mb_cap_is_refused_with_413(http_server: HTTPServer) -> None:
    # README: "request bodies are capped at 6 MB (413 above)" - just over 6,000,000 bytes (the longest question,
    # every character an escaped surrogate pair, and the envelope): 6 MiB is beyond it (x-names-runs: KINDS=names
    # raised _MAX_JSON_BYTES_PER_CHAR to 13 and 24, and the test above follows the constant).
    padding = 6 * 1024 * 1024 + 1 - len(json.dumps({**INIT, "padding": ""}))
    body = json.dumps({**INIT, "padding": "x" * padding})
    assert len(body) == 6 * 1024 * 1024 + 1
    headers = dict(HEADERS, Authorization=f"Bearer {TOKEN}")
    response = httpx.post(http_server.url, content=body, headers=headers, timeout=30)
    assert response.status_code == 413
