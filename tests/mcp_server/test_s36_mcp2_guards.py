"""Quiet effects in the MCP server (issue 26, the s36-mcp2 hand sweep: what the first wave left of ``_stdio``,
``_server``, ``_logs``, ``_ops``, ``_stdout``, then ``__main__``, ``_fit``, ``_texts``, ``_schema``, ``_icons``,
``http/gate``, ``http/routes`` and the runner's ``call``/``_run``). Each test was checked to fail with the break
it names."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server import create_server
from mcp_server.__main__ import _credentials, build_parser
from mcp_server._requests import current_exchange
from mcp_server._server import server_runtime
from mcp_server.http.auth import AUTH_TOKEN_ENV, AUTH_TOKEN_FILE_ENV, MIN_TOKEN_CHARS
from mcp_server.http.cancels import Exchanges
from mcp_server.http.gate import CallGate
from mcp_server.runs import deadline as deadline_module
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.records import RunRecord
from mcp_server.runs.runner import Runner, _LiveRun
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .test_audit_guards import CALL, CANCEL, WaitingApp, gate, headers
from .test_drain_order import runner_on
from .test_ops_guards import calls
from .test_server_guards_sweep import exploding_server
from .test_sw_runner_guards import _Recorder
from .test_tool import call
from .test_transport_guards_stdio import REQUEST, wire

pytestmark = pytest.mark.anyio


async def test_at_the_end_the_answers_wait_only_for_what_the_drain_left_of_the_grace(
    make_server: Callable[..., MCPServer], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Break: the wait for answers after the drain given the whole grace again instead of what is left of it
    # (`deadline.grace` for `deadline.left()`): a drain that used the grace is followed by as long again, and a
    # process given --shutdown-grace 600 by its supervisor is killed before it exits.
    now = [1000.0]
    monkeypatch.setattr(deadline_module, "anyio", SimpleNamespace(current_time=lambda: now[0]))

    async def drain(deadline: Deadline, *_: object, **__: object) -> None:
        now[0] = deadline.end  # the runs took all of the grace (recorded clock)

    caplog.set_level(logging.INFO, logger="mcp_server")
    with anyio.fail_after(10):
        async with wire(make_server(), grace=600) as w:
            w.lines._runtime = SimpleNamespace(drain=drain)
            await w.feed(REQUEST)  # never answered
            w.lines.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "mcp_server"]
    assert "qwen-ci-mcp: 1 requests still unanswered at the end of the 600 s grace; exiting anyway" in messages


async def test_a_cancel_of_request_id_0_reaches_its_call_and_is_not_forwarded_once_found_here() -> None:
    # Break: the gate testing the cancelled request id for truth instead of presence (`0`, a valid JSON-RPC
    # id that clients counting from 0 use, never cancels: the run goes on, billed). (A cancel that matched
    # two calls here must not be forwarded either: test_audit_guards holds that.)
    app, forwarded = WaitingApp(), list[str]()
    call = {**CALL, "id": 0}
    cancel = {**CANCEL, "params": {"requestId": 0}}
    async with gate(app, forwarded) as http, anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            tg.start_soon(lambda: http.post("/mcp", content=json.dumps(call), headers=headers("session-a")))
            await anyio.wait_all_tasks_blocked()  # the call waits in the app (in-process transport)
            answered = await http.post("/mcp", content=json.dumps(cancel), headers=headers("session-a"))
            ((exchange,),) = app.waiting.values()
            assert answered.status_code == 202 and exchange.aborted
            assert forwarded == []
            lost = {**CANCEL, "params": {"requestId": 5}}  # matches no call here: for the other replicas
            await http.post("/mcp", content=json.dumps(lost), headers=headers("session-a"))
            assert forwarded == ["5"]


def test_a_shared_auth_token_of_exactly_the_minimum_length_is_taken_and_one_shorter_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break: the length check made `<=` (a 16-character token, the documented minimum, refused at start).
    monkeypatch.delenv(AUTH_TOKEN_ENV, raising=False)
    monkeypatch.delenv(AUTH_TOKEN_FILE_ENV, raising=False)
    least = "t" * MIN_TOKEN_CHARS
    credentials = _credentials(build_parser().parse_args(["--auth-token", least]))
    assert credentials is not None and credentials.client_for(least.encode()) is not None
    with pytest.raises(ValueError, match=f"shorter than {MIN_TOKEN_CHARS} characters"):
        _credentials(build_parser().parse_args(["--auth-token", least[1:]]))


async def test_a_waiter_leaving_while_a_stage_is_reported_to_another_does_not_break_the_run() -> None:
    # Break: the stage reports iterating over the live set of listeners instead of a copy: a waiter whose
    # wait ends (max_wait, a cancel) while another's progress notification is being sent changes the set
    # under the loop, and the run fails with "Set changed size during iteration" (an unexpected failure).
    runner = server_runtime(create_server(api_key=PLANTED_KEY))
    assert isinstance(runner, Runner)
    run = _LiveRun(RunRecord("run_x", started_at=0.0, owner="local"))
    heard: list[str] = []

    async def first(stage: str, _message: str | None) -> None:
        heard.append(f"first: {stage}")
        run.listeners.discard(second)  # the other waiter's wait ends meanwhile

    async def second(stage: str, _message: str | None) -> None:
        heard.append(f"second: {stage}")

    run.listeners.update((first, second))
    await runner._stage(run, "running code")  # (either order: a set changed under its loop raises at the next step)
    assert "first: running code" in heard
    assert (await runner.local.get("run_x")) is not None


class _Client:
    """The ASGI server's side of one POST: the body in one message, then the client's disconnect when told."""

    def __init__(self, body: dict[str, Any], *, more_body_said: bool = True) -> None:
        first: dict[str, Any] = {"type": "http.request", "body": json.dumps(body).encode()}
        if more_body_said:
            first["more_body"] = False
        self._messages: list[dict[str, Any]] = [first]
        self.leave = anyio.Event()
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self._messages:
            return self._messages.pop(0)
        await self.leave.wait()  # an ASGI server that says nothing until the client goes away
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def _scope(method: str = "POST", path: str = "/mcp") -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": [(b"content-type", b"application/json")]}


def _gate(app: ASGIApp, exchanges: Exchanges | None = None) -> CallGate:
    return CallGate(app, exchanges=exchanges or Exchanges(), ready=lambda: True, body_limit=1 << 20, path="/mcp")


async def _answer_202(send: Send) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_a_client_leaving_mid_call_aborts_its_exchange_and_the_app_hears_of_it() -> None:
    # Breaks: the gate's watcher not aborting the exchange on the client's disconnect (the run goes on, billed,
    # for a client that is gone); not telling the app's replayed `receive` (the SDK never learns it).
    seen: list[tuple[str, bool, str | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (message := await receive())["type"] != "http.disconnect":
            pass
        exchange = current_exchange.get()
        assert exchange is not None
        seen.append((message["type"], exchange.aborted, exchange.reason))

    client = _Client(CALL)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_gate(app), _scope(), client.receive, client.send)
            await anyio.wait_all_tasks_blocked()
            client.leave.set()
    assert seen == [("http.disconnect", True, "the client disconnected")]


async def test_once_the_app_has_answered_the_gate_returns_without_waiting_for_the_client_to_leave() -> None:
    # Break: the watcher of the client's disconnect not stopped once the app is done: every request is held
    # (its task, its exchange, the drain waiting for it) until the client closes its connection.
    exchanges = Exchanges()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer_202(send)

    client = _Client(CALL)
    with anyio.fail_after(10):
        await _gate(app, exchanges)(_scope(), client.receive, client.send)
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
    assert len(exchanges) == 0


async def test_a_body_whose_last_message_leaves_out_more_body_counts_as_whole() -> None:
    # Break: a missing `more_body` read as "more to come" (ASGI's default is False): the gate waits for a
    # body that has ended, and the request hangs until the client leaves.
    got: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append((await receive()).get("body", b""))
        await _answer_202(send)

    client = _Client(CALL, more_body_said=False)
    with anyio.fail_after(10):
        await _gate(app)(_scope(), client.receive, client.send)
    assert json.loads(got[0]) == CALL


async def test_only_a_get_of_the_mcp_path_gets_405_other_paths_reach_the_app() -> None:
    # Break: every GET answered 405 by the gate (an operator's or a proxy's GET of another path never
    # reaches the app, which would answer 404 or serve it).
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    statuses = []
    for path in ("/mcp", "/elsewhere"):
        client = _Client({})
        with anyio.fail_after(10):
            await _gate(app)(_scope("GET", path), client.receive, client.send)
        statuses.append(client.sent[0]["status"])
    assert statuses == [405, 404]


async def test_a_call_that_fails_unexpectedly_is_counted_failed_with_its_error_class_not_cancelled() -> None:
    # Break: the runner's unexpected-failure branch not marking the call failed: a bug in the server is
    # counted (qwen_ci_calls_total) and logged as a call its client cancelled.
    server = exploding_server()
    ops = server_runtime(server).ops  # type: ignore[attr-defined]
    result = await call(server)
    assert result.is_error
    assert calls(ops, "failed", "RuntimeError") == 1
    assert calls(ops, "cancelled") == 0


async def test_a_calls_progress_names_only_the_stages_a_person_watches_never_connected_or_done() -> None:
    # Break: every stage change reported (`if stage:` for `is_work_stage`): "connected" and "done" reach the
    # client as progress messages and the run's record, one more notification and write each per call.
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            progress = _Recorder()
            answer = await runner.call(SEED_QUESTION, False, progress, runs)  # type: ignore[arg-type]
    assert not answer.is_error
    assert "thinking" in progress.messages
    assert not {"connected", "done"} & set(progress.messages)


async def test_a_run_cancelled_twice_keeps_the_first_reason() -> None:
    # Break: a live run's cancel overwriting its reason: a run the client cancelled and the drain then
    # cancelled too is answered and logged as stopped by the shutdown (or the other way round).
    run = _LiveRun(RunRecord("run_x", started_at=0.0, owner="local"))
    run.cancel("the client cancelled the call")
    run.cancel("the server is shutting down")
    assert run.reason == "the client cancelled the call"
    assert run.scope.cancel_called
