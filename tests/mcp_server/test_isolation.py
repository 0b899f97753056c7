"""Runs belong to their client: its token name (one identity for the shared token, or for no token).

Another client's ``run_id`` is "no such run", on the replica that runs it or on another one, and
another client's cancel never reaches a call, whatever request id and session id it names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .processes import http_server_process
from .test_replicas import call_until, legacy_session, replicas
from .test_tool import text_of

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef"


def tokens(tmp_path: Path) -> str:
    path = tmp_path / "tokens"
    path.write_text(f"alice:{ALICE}\nbob:{BOB}\n")
    return str(path)


async def as_client(url: str, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool(tool, arguments)


async def collect(url: str, token: str, run_id: str) -> Any:
    while True:
        answer = await as_client(url, token, RESULT_TOOL_NAME, {"run_id": run_id})
        if answer.is_error or (answer.structured_content or {}).get("status") != "running":
            return answer


@pytest.mark.parametrize("replica", ["same", "another"])
async def test_another_clients_run_id_is_no_such_run_and_its_owner_collects_it(
    tmp_path: Path, redis_url: str, replica: str
) -> None:
    options = ("--max-wait", "0.3", "--auth-token-file", tokens(tmp_path))
    with Emulator(code_pause=1.0) as emu, replicas(emu, redis_url, *options) as (a, b):
        elsewhere = a if replica == "same" else b
        with anyio.fail_after(30):
            first = await as_client(a.url, ALICE, TOOL_NAME, {"question": SEED_QUESTION})
            run_id = first.structured_content["run_id"]
            stranger = await as_client(elsewhere.url, BOB, RESULT_TOOL_NAME, {"run_id": run_id})
            owner = await collect(elsewhere.url, ALICE, run_id)

    assert stranger.is_error and f"no run {run_id!r}" in text_of(stranger)
    assert "running" not in json.dumps(stranger.structured_content or {})  # not even its stage leaks
    assert not owner.is_error and SEED_ANSWER in text_of(owner)


async def test_every_holder_of_the_shared_token_is_one_client(emu: Emulator) -> None:
    token = "shared-token-0123456789"
    args = ("--base-url", emu.base_url, "--max-retries", "0", "--max-wait", "0.3")
    emu.code_pause = 1.0
    with http_server_process(*args, DASHSCOPE_API_KEY=PLANTED_KEY, QWEN_CI_MCP_AUTH_TOKEN=token) as server:
        with anyio.fail_after(30):
            first = await as_client(server.url, token, TOOL_NAME, {"question": SEED_QUESTION})
            answer = await collect(server.url, token, first.structured_content["run_id"])  # a new connection

    assert not answer.is_error and SEED_ANSWER in text_of(answer)


async def test_a_cancel_from_one_client_cannot_reach_another_clients_call(tmp_path: Path) -> None:
    with Emulator(code_pause=1.0) as emu:
        args = ("--base-url", emu.base_url, "--max-retries", "0", "--auth-token-file", tokens(tmp_path))
        with http_server_process(*args, DASHSCOPE_API_KEY=PLANTED_KEY) as server:
            async with httpx2.AsyncClient(timeout=30) as http:
                with anyio.fail_after(30):
                    bob = await legacy_session(http, server.url, {"Authorization": f"Bearer {BOB}"})
                    stream, lines = await call_until(http, server.url, bob, 7, "running code")
                    # Alice names Bob's request id and even Bob's session id: hers is another client.
                    alice = {**bob, "Authorization": f"Bearer {ALICE}"}
                    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
                    assert (await http.post(server.url, json=cancel, headers=alice)).status_code == 202
                    rest = [line async for line in lines]
                    await stream.__aexit__(None, None, None)

    answer = json.loads(next(line for line in rest if line.startswith("data:") and '"id":7' in line)[5:])
    assert SEED_ANSWER in json.dumps(answer["result"])
    assert len(emu.requests) == 1
