"""Behaviours of the MCP server a one-line break left unguarded (the third and fourth mutation audits,
issue 26): each test here fails when its line breaks. The HTTP gate is driven in process, in front of a
stand-in app whose calls wait until their exchange is aborted."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from starlette.types import Receive, Scope, Send

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from mcp_server._fit import compact_record, fit_record, size_of
from mcp_server._requests import Exchange, current_exchange
from mcp_server.http.app import build_http_app, security_settings
from mcp_server.http.auth import Credentials
from mcp_server.http.cancels import Exchanges
from mcp_server.http.gate import CallGate
from qwen_ci_tool import CodeInterpreterResult
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .test_run_rules import collect
from .test_tool import text_of

pytestmark = pytest.mark.anyio

TOKEN = "shared-token-0123456789"


class WaitingApp:
    """Answers 202 at once, except a ``tools/call``, which waits until its exchange is aborted."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[Exchange]] = {}
        self.both = anyio.Event()  # two calls wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = current_exchange.get()
        if exchange is not None:
            session = dict(scope["headers"]).get(b"mcp-session-id", b"").decode()
            self.waiting.setdefault(session, []).append(exchange)
            if sum(map(len, self.waiting.values())) == 2:
                self.both.set()
            with exchange.guard():
                await anyio.sleep_forever()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def gate(app: WaitingApp, forwarded: list[str] | None = None) -> httpx.AsyncClient:
    async def forward(principal: str, request_id: str) -> None:
        if forwarded is not None:
            forwarded.append(request_id)

    asgi = CallGate(
        app, exchanges=Exchanges(), ready=lambda: True, body_limit=1 << 20, path="/mcp", forward_cancel=forward
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://127.0.0.1")


def headers(session: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Mcp-Session-Id": session, "Content-Type": "application/json"}


CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "qwen_code_interpreter", "arguments": {}}}
CANCEL = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}


async def test_a_cancel_reaches_only_the_call_of_its_own_session_when_clients_share_a_token() -> None:
    app = WaitingApp()
    async with gate(app) as http, anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            for session in ("session-a", "session-b"):
                tg.start_soon(lambda s=session: http.post("/mcp", content=json.dumps(CALL), headers=headers(s)))
            await app.both.wait()
            # The gate routes a cancel before it answers it: once answered, it has reached its call or not.
            cancel_a = await http.post("/mcp", content=json.dumps(CANCEL), headers=headers("session-a"))
            (a,), (b,) = app.waiting["session-a"], app.waiting["session-b"]
            assert cancel_a.status_code == 202 and a.aborted
            assert not b.aborted  # the same token, the same request id: another client
            await http.post("/mcp", content=json.dumps(CANCEL), headers=headers("session-b"))
            assert b.aborted


async def test_a_cancel_matching_two_calls_touches_neither_and_is_not_forwarded() -> None:
    # Two calls of one client with the same request id: which one it meant cannot be told, so
    # neither is cancelled, and other replicas are not asked either (the call is here).
    app, forwarded = WaitingApp(), list[str]()
    async with gate(app, forwarded) as http, anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            for _ in range(2):
                tg.start_soon(lambda: http.post("/mcp", content=json.dumps(CALL), headers=headers("session-a")))
            await app.both.wait()
            await http.post("/mcp", content=json.dumps(CANCEL), headers=headers("session-a"))
            assert not any(e.aborted for e in app.waiting["session-a"]) and forwarded == []
            tg.cancel_scope.cancel()


async def test_the_texts_about_a_run_name_the_wait_and_the_ttl_each_where_it_belongs() -> None:
    with Emulator(code_pause=0.5) as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05, result_ttl=123)
        async with Client(server) as client:
            with anyio.fail_after(20):
                first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                unknown = await client.call_tool(RESULT_TOOL_NAME, {"run_id": "run_nope"})
                await collect(client, str((first.structured_content or {}).get("run_id")))

    pending = text_of(first)
    assert "it waits up to 0.05 s" in pending and "kept for 123 s after the run ends" in pending
    assert "results are kept 123 s after a run ends" in text_of(unknown)


def test_a_token_is_accepted_only_whole_never_as_the_start_of_a_longer_one() -> None:
    credentials = Credentials({TOKEN: "alice"})
    assert credentials.client_for(TOKEN.encode()) == "alice"
    assert credentials.client_for((TOKEN + "-and-more").encode()) is None
    assert credentials.client_for(TOKEN[:-1].encode()) is None


def test_loopback_with_allowed_hosts_checks_the_host_header_against_them() -> None:
    # The SDK's own protection on loopback knows only loopback names: a proxy's name would be refused.
    settings = security_settings("127.0.0.1", ["mcp.example.com"])
    assert settings is not None and {"mcp.example.com", "mcp.example.com:*", "127.0.0.1:*"} <= set(
        settings.allowed_hosts
    )


async def test_the_bearer_scheme_is_matched_in_any_case(make_server: Callable[..., MCPServer]) -> None:
    app = build_http_app(make_server(), host="127.0.0.1", credentials=Credentials.single(TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        statuses = [
            (await http.get("/metrics", headers={"Authorization": f"{s} {TOKEN}"})).status_code
            for s in ("bearer", "BEARER")
        ]
    assert statuses == [200, 200]


async def test_while_draining_only_new_calls_get_503_and_the_result_tool_still_answers() -> None:
    async def answered(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    asgi = CallGate(answered, exchanges=Exchanges(), ready=lambda: False, body_limit=1 << 20, path="/mcp")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://127.0.0.1") as http:
        statuses = []
        for name in (TOOL_NAME, RESULT_TOOL_NAME):
            call = {**CALL, "params": {"name": name, "arguments": {"run_id": "run_x"}}}
            statuses.append((await http.post("/mcp", content=json.dumps(call), headers=headers("s"))).status_code)
    assert statuses == [503, 200]


async def test_an_answer_that_echoes_the_key_reaches_the_client_with_the_key_masked_in_text_and_record() -> None:
    frame = {
        "output": {"choices": [{"message": {"content": f"Your key is {PLANTED_KEY}."}, "finish_reason": "stop"}]},
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        "request_id": "rid-echo",
    }
    with Emulator() as emu:
        emu.replay(f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(frame)}\n\n".encode())
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0)
        async with Client(server) as client:
            with anyio.fail_after(20):
                result = await client.call_tool(TOOL_NAME, {"question": "What is my key?"})
    text = text_of(result)
    assert not result.is_error and "Your key is **********." in text and PLANTED_KEY not in text
    assert result.structured_content is not None and result.structured_content["answer"] == "Your key is **********."
    assert PLANTED_KEY not in json.dumps(result.structured_content)


def test_a_record_too_big_for_its_share_loses_code_output_before_any_of_the_answer() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "A" * 3000,
            "reasoning": "r" * 100,
            "code_runs": [{"index": 0, "code": "print('o' * 20000)", "output": "o" * 20000}],
            "protocol": "responses",
            "status": "completed",
        }
    )
    record = compact_record(result)
    fit_record(record, size_of(record) - 15_000)  # cuts in place
    assert record["answer"] == "A" * 3000 and not any(t.startswith("answer") for t in record["truncated"])
    assert any(t.startswith("code_runs[0].output") for t in record["truncated"])


# --- the fourth audit ------------------------------------------------------------------------------


def test_every_code_runs_output_is_cut_before_any_code_not_only_the_first_runs() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "A" * 3000,
            "code_runs": [
                {"index": 0, "code": "print(1)", "output": "1"},
                {"index": 1, "code": "print('o' * 20000)", "output": "o" * 20000},
            ],
            "protocol": "responses",
            "status": "completed",
        }
    )
    record = compact_record(result)
    fit_record(record, size_of(record) - 15_000)
    cut = [t.split(" ")[0] for t in record["truncated"]]
    assert "code_runs[1].output" in cut and all(name.endswith(".output") for name in cut)
    assert [run["code"] for run in record["code_runs"]] == ["print(1)", "print('o' * 20000)"]
    assert record["answer"] == "A" * 3000


async def test_while_draining_a_call_with_a_body_over_the_limit_goes_to_the_apps_size_check_not_a_503() -> None:
    # Up to the limit the gate reads the call and refuses it (call again); past it, the body is not
    # the gate's to read: the app's own limit answers it (413), and "call again" would never help.
    async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    call = json.dumps({**CALL, "params": {"name": TOOL_NAME, "arguments": {"question": ""}}})
    statuses = []
    for extra in (0, 1):
        asgi = CallGate(
            too_large, exchanges=Exchanges(), ready=lambda: False, body_limit=len(call) - extra, path="/mcp"
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://127.0.0.1") as http:
            statuses.append((await http.post("/mcp", content=call, headers=headers("s"))).status_code)
    assert statuses == [503, 413]


@pytest.mark.parametrize("overlapping", [False, True], ids=["one-after-another", "overlapping"])
async def test_waiting_for_quiet_returns_only_once_no_exchange_is_in_flight_even_with_no_quiet_time(
    overlapping: bool,
) -> None:
    # One after another: the first request ends and the next arrives before the waiter runs again.
    # Overlapping (audit 10's m02): the second must not replace the event the waiter already waits on,
    # or the drain would wait to its deadline once both ended.
    exchanges = Exchanges()
    quiet = anyio.Event()

    async def wait() -> None:
        await exchanges.wait_quiet(0)
        quiet.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            first = contextlib.ExitStack()
            first.enter_context(exchanges.open("client", 1))
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            if not overlapping:
                first.close()
            with exchanges.open("client", 2):
                await anyio.wait_all_tasks_blocked()
                first.close()
                await anyio.wait_all_tasks_blocked()
                assert not quiet.is_set(), "returned with a request in flight"
            await quiet.wait()


async def test_waiting_for_quiet_lasts_the_whole_quiet_time_after_the_last_exchange_ends() -> None:
    # audit 6's m08: the client's follow-up request (tools/list after a result) gets this long to arrive.
    # A lower bound only: the wait may be late on a busy machine, never early.
    exchanges = Exchanges()
    with anyio.fail_after(10):
        with exchanges.open("client", 1):
            pass
        ended = anyio.current_time()
        await exchanges.wait_quiet(0.3)
        assert anyio.current_time() - ended >= 0.3
