"""What an operator sees: /healthz, /readyz, /metrics, per-client token files, JSON logs, SIGHUP reload."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from prometheus_client.parser import text_string_to_metric_families

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, server_runtime
from mcp_server.__main__ import main
from mcp_server._logs import JSONFormatter, Redactor
from mcp_server._ops import ContextFilter
from mcp_server.http.app import build_http_app
from mcp_server.http.auth import Credentials, TokenFileError, parse_token_file
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .processes import ServerProcess, http_server_process
from .test_tool import Progress, call

pytestmark = pytest.mark.anyio

TOKEN = "shared-token-0123456789"
ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-fedcba9876543210xyz"
CAROL = "carol-token-a1b2c3d4e5f6g7h8"


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, keyed by name and sorted labels."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def asgi_client(server: MCPServer, credentials: Credentials | None = None) -> httpx.AsyncClient:
    app = build_http_app(server, host="127.0.0.1", credentials=credentials)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


# --- health, readiness, metrics (in process) -------------------------------------------------------


async def test_healthz_answers_without_a_token_and_without_calling_the_service(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    async with asgi_client(make_server(), Credentials.single(TOKEN)) as http:
        health = await http.get("/healthz")
        mcp = await http.post("/mcp", json={})

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert mcp.status_code == 401  # everything else still needs the token
    assert emu.requests == []


async def test_readyz_turns_503_once_shutdown_begins_while_healthz_stays_200(
    make_server: Callable[..., MCPServer],
) -> None:
    server = make_server()
    async with asgi_client(server, Credentials.single(TOKEN)) as http:
        before = await http.get("/readyz")
        await server_runtime(server).drain(0)  # what SIGTERM starts: no new calls from now on
        during = await http.get("/readyz")
        health = await http.get("/healthz")

    assert before.status_code == 200 and before.json() == {"status": "ready"}
    assert during.status_code == 503 and during.json() == {"status": "shutting down"}
    assert health.status_code == 200


async def test_metrics_need_the_same_bearer_token(make_server: Callable[..., MCPServer]) -> None:
    async with asgi_client(make_server(), Credentials.single(TOKEN)) as http:
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        right = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert "--auth-token-file" in wrong.json()["error_description"]
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain")
    assert value(metric_samples(right.text), "qwen_ci_http_unauthorized_total") == 2


async def test_metrics_count_calls_by_outcome_and_error_tokens_by_kind_runs_and_durations(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    server = make_server()
    results = [await call(server), await call(server)]
    emu.add_fault(Fault.finish_reason("length"))
    results.append(await call(server))
    emu.add_fault(Fault.status(401, "InvalidApiKey"))
    results.append(await call(server))
    async with asgi_client(server) as http:
        text = (await http.get("/metrics")).text
    samples = metric_samples(text)

    assert [r.is_error for r in results] == [False, False, True, True]
    calls = "qwen_ci_calls_total"
    assert value(samples, calls, client="local", outcome="completed", error="") == 2
    assert value(samples, calls, client="local", outcome="incomplete", error="") == 1
    assert value(samples, calls, client="local", outcome="failed", error="AuthenticationError") == 1
    assert value(samples, "qwen_ci_call_duration_seconds_count", outcome="completed") == 2
    assert value(samples, "qwen_ci_call_duration_seconds_sum", outcome="completed") > 0
    records = [r.structured_content or {} for r in results[:3]]
    for kind in ("input", "output", "reasoning"):
        expected = sum(r["usage"][f"{kind}_tokens"] for r in records)
        assert expected > 0
        assert value(samples, "qwen_ci_tokens_total", client="local", kind=kind) == expected
    runs = sum(max(r["usage"]["code_interpreter_calls"], len(r["code_runs"])) for r in records)
    assert runs >= 3 and value(samples, "qwen_ci_interpreter_runs_total", client="local") == runs
    assert value(samples, "qwen_ci_calls_in_flight") == 0 and value(samples, "qwen_ci_calls_queued") == 0
    assert all(name.startswith("qwen_ci_") for name, _ in samples)


async def test_metrics_count_run_handles_and_the_run_once_it_ends_and_refused_calls(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    server = make_server(max_wait=0.2)
    emu.code_pause = 1.0  # longer than max_wait: the call is answered with a handle
    async with Client(server) as client:
        with anyio.fail_after(20):
            pending = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
            run_id = pending.structured_content["run_id"]  # type: ignore[index]
            async with asgi_client(server) as http:
                during = metric_samples((await http.get("/metrics")).text)
            done = pending
            while done.structured_content.get("status") == "running":  # type: ignore[union-attr]
                done = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
    await server_runtime(server).drain(0)
    async with Client(server) as client:
        refused = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
    async with asgi_client(server) as http:
        after = metric_samples((await http.get("/metrics")).text)

    assert not done.is_error and refused.is_error
    assert value(during, "qwen_ci_run_handles_total", client="local") == 1
    assert value(during, "qwen_ci_calls_in_flight") == 1
    assert value(during, "qwen_ci_calls_total", client="local", outcome="completed", error="") == 0
    assert value(after, "qwen_ci_run_handles_total", client="local") == 1
    assert value(after, "qwen_ci_calls_total", client="local", outcome="completed", error="") == 1
    assert value(after, "qwen_ci_calls_total", client="local", outcome="failed", error="ShuttingDown") == 1
    assert value(after, "qwen_ci_tokens_total", client="local", kind="output") > 0


async def test_metrics_show_calls_in_flight_and_queued_while_they_wait(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    server = make_server(max_concurrency=1)
    emu.add_fault(Fault.stall(after_events=3, seconds=30))
    first, second = Progress(), Progress()
    async with asgi_client(server) as http, Client(server) as client:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=first))
                await first.seen("thinking").wait()
                tg.start_soon(
                    lambda: client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=second)
                )
                await second.seen("waiting for a free slot").wait()
                during = metric_samples((await http.get("/metrics")).text)
                tg.cancel_scope.cancel()
            # The server ends the two cancelled calls in its own tasks, after the client gave up: look until
            # nothing is in flight or queued (bounded by the fail_after), then check what was counted.
            while True:
                after = metric_samples((await http.get("/metrics")).text)
                if value(after, "qwen_ci_calls_in_flight") == value(after, "qwen_ci_calls_queued") == 0:
                    break
                await anyio.sleep(0.02)

    assert value(during, "qwen_ci_calls_in_flight") == 1
    assert value(during, "qwen_ci_calls_queued") == 1
    assert value(after, "qwen_ci_calls_in_flight") == 0 and value(after, "qwen_ci_calls_queued") == 0
    assert value(after, "qwen_ci_calls_total", client="local", outcome="cancelled", error="") == 2


def test_two_servers_in_one_process_keep_their_own_metrics(make_server: Callable[..., MCPServer]) -> None:
    one, two = make_server(), make_server()
    server_runtime(one).ops.metrics.record_call("local", "completed", "", 1.0)

    first = metric_samples(server_runtime(one).ops.metrics.exposition().decode())
    second = metric_samples(server_runtime(two).ops.metrics.exposition().decode())
    assert value(first, "qwen_ci_calls_total", client="local", outcome="completed", error="") == 1
    assert value(second, "qwen_ci_calls_total", client="local", outcome="completed", error="") == 0


async def test_a_proxy_request_id_is_kept_and_echoed_and_a_missing_one_is_made(
    make_server: Callable[..., MCPServer],
) -> None:
    async with asgi_client(make_server()) as http:
        # A path the app does not serve: the id is added to any response that passes the check.
        given = await http.get("/elsewhere", headers={"X-Request-Id": "nginx-abc123"})
        made = await http.get("/elsewhere", headers={"X-Request-Id": "bad id with spaces"})

    assert given.status_code == 404 and given.headers["x-request-id"] == "nginx-abc123"
    assert len(made.headers["x-request-id"]) == 32 and " " not in made.headers["x-request-id"]


# --- token files ---------------------------------------------------------------------------------


def write_tokens(path: Path, **tokens: str) -> Path:
    path.write_text("# team tokens\n\n" + "".join(f"{name}:{token}\n" for name, token in tokens.items()))
    return path


def test_a_token_file_maps_each_token_to_its_client_name(tmp_path: Path) -> None:
    path = write_tokens(tmp_path / "tokens", alice=ALICE, bob=BOB)
    credentials = Credentials.from_file(path)

    assert parse_token_file(path) == {ALICE: "alice", BOB: "bob"}
    assert credentials.client_for(ALICE.encode()) == "alice"
    assert credentials.client_for(BOB.encode()) == "bob"
    assert credentials.client_for(ALICE[:-1].encode()) is None
    assert credentials.client_for(b"") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice\n", "line 1: expected 'name:token'"),
        (f"alice:{ALICE}\nalice:{BOB}\n", "line 2: the client name 'alice' appears twice"),
        (f"alice:{ALICE}\nbob:{ALICE}\n", "line 2: 'bob' has the same token as 'alice'"),
        ("alice:short-token\n", "shorter than 16 characters"),
        (f"al ice:{ALICE}\n", "the client name must be"),
        (f"alice:{ALICE[:5]} {ALICE[5:]}\n", "printable ASCII without spaces"),
        ("# nothing\n\n", "has no 'name:token' lines"),
    ],
)
def test_a_bad_token_file_is_refused_with_the_line_and_without_the_token(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "tokens"
    path.write_text(content)
    with pytest.raises(TokenFileError) as caught:
        parse_token_file(path)
    assert message in str(caught.value)
    assert ALICE not in str(caught.value) and BOB not in str(caught.value)


def test_the_command_refuses_a_bad_or_missing_token_file_and_a_file_plus_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    bad.write_text(f"alice:{ALICE}\nalice:{BOB}\n")
    good = write_tokens(tmp_path / "good", alice=ALICE)
    http = ["--transport", "streamable-http"]

    assert main([*http, "--auth-token-file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qwen-ci-mcp: error: ") and "line 2" in err and ALICE not in err and BOB not in err
    assert main([*http, "--auth-token-file", str(tmp_path / "missing")]) == 2
    assert "cannot read the auth token file" in capsys.readouterr().err
    assert main([*http, "--auth-token-file", str(good), "--auth-token", TOKEN]) == 2
    assert "not both" in capsys.readouterr().err


# --- a real server: client names in logs and metrics, SIGHUP, secret-free JSON logs ---------------


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    return write_tokens(tmp_path / "tokens", alice=ALICE, bob=BOB)


@pytest.fixture
def team_server(emu: Emulator, token_file: Path) -> Iterator[ServerProcess]:
    args = ["--base-url", emu.base_url, "--max-retries", "0", "--auth-token-file", str(token_file),
            "--log-format", "json", "--log-level", "DEBUG"]  # fmt: skip
    with http_server_process(*args, DASHSCOPE_API_KEY=PLANTED_KEY) as server:
        yield server


async def call_over_http(
    url: str, token: str, question: str = SEED_QUESTION, mode: str = "auto", **headers: str
) -> Any:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", **headers}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        with anyio.fail_after(30):
            return await client.call_tool(TOOL_NAME, {"question": question})


async def test_token_file_names_label_json_log_lines_and_metrics_and_no_secret_is_logged(
    team_server: ServerProcess,
) -> None:
    alice = await call_over_http(team_server.url, ALICE, mode="legacy")  # the handshake era; bob's is 2026-07-28
    # A question carrying the key and a token, and a request id equal to a token: the server logs
    # both at DEBUG level (the SDK logs messages), so only masking keeps them out.
    bob = await call_over_http(team_server.url, BOB, f"{SEED_QUESTION} {PLANTED_KEY} {ALICE}", **{"X-Request-Id": BOB})
    with anyio.fail_after(10):
        metrics = (
            await httpx.AsyncClient().get(team_server.root + "/metrics", headers={"Authorization": f"Bearer {BOB}"})
        ).text
    team_server.wait_for(r'"outcome": "completed".*"client": "bob"|"client": "bob".*"outcome": "completed"')
    log = team_server.output()

    assert not alice.is_error and not bob.is_error
    entries = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    calls = [e for e in entries if e.get("outcome")]
    assert {e["client"] for e in calls} == {"alice", "bob"}
    for entry in calls:
        assert {"time", "level", "client", "request_id", "outcome", "duration_s", "tokens"} <= set(entry)
        assert entry["tokens"]["total"] > 0 and entry["duration_s"] > 0 and entry["request_id"]
    samples = metric_samples(metrics)
    for name in ("alice", "bob"):
        assert value(samples, "qwen_ci_calls_total", client=name, outcome="completed", error="") == 1
        assert value(samples, "qwen_ci_tokens_total", client=name, kind="input") > 0
    assert PLANTED_KEY[:20] not in log  # not even in part
    for token in (ALICE, BOB):
        assert token not in log
    assert "**********" in log  # the secrets were there, and masked


async def test_sighup_reloads_the_token_file_and_a_bad_file_keeps_the_tokens_in_use(
    team_server: ServerProcess, token_file: Path
) -> None:
    async def status(token: str) -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(team_server.root + "/metrics", headers={"Authorization": f"Bearer {token}"})
        return response.status_code

    assert await status(ALICE) == 200 and await status(CAROL) == 401
    write_tokens(token_file, carol=CAROL, bob=BOB)
    team_server.signal(signal.SIGHUP)
    await anyio.to_thread.run_sync(lambda: team_server.wait_for("reloaded: 2 clients"))
    assert await status(CAROL) == 200 and await status(ALICE) == 401 and await status(BOB) == 200

    token_file.write_text("carol\n")
    team_server.signal(signal.SIGHUP)
    await anyio.to_thread.run_sync(lambda: team_server.wait_for("not reloaded"))
    assert await status(CAROL) == 200 and await status(BOB) == 200


# --- pure parts ----------------------------------------------------------------------------------


async def test_an_info_log_has_a_line_per_call_and_none_per_http_request(emu: Emulator) -> None:
    with http_server_process("--base-url", emu.base_url, DASHSCOPE_API_KEY=PLANTED_KEY) as server:
        for mode in ("auto", "legacy"):
            result = await call_over_http(server.url, "unused", mode=mode)
            assert not result.is_error
        server.terminate()
        assert await anyio.to_thread.run_sync(server.wait) == 0
    log = server.output()
    assert log.count("call completed") == 2
    assert "Terminating session" not in log  # the SDK's line at the end of every stateless request


async def test_a_call_refused_before_any_event_logs_the_request_id_the_service_sent(
    make_server: Callable[..., MCPServer], emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = "req-401-0001"
    emu.add_fault(Fault.status(401, request_id=request_id))  # refused before the stream: no partial, only the error
    with caplog.at_level(logging.INFO, logger="mcp_server"):
        result = await call(make_server())
    [line] = [r for r in caplog.records if r.getMessage().startswith("call failed (AuthenticationError)")]

    assert result.is_error and getattr(line, "upstream_request_id", None) == request_id
    assert f"upstream_request_id={request_id}" in line.getMessage()


def test_json_lines_carry_the_context_and_mask_every_secret() -> None:
    redact = Redactor([PLANTED_KEY], lambda: [ALICE])
    record = logging.LogRecord("mcp_server", logging.INFO, __file__, 1, "key %s token %s", (PLANTED_KEY, ALICE), None)
    record.outcome = "completed"
    ContextFilter().filter(record)
    entry = json.loads(JSONFormatter(redact).format(record))

    assert entry["message"] == "key ********** token **********"
    assert entry["client"] == "local" and entry["request_id"] is None and entry["outcome"] == "completed"
    assert entry["time"].endswith("Z") and entry["level"] == "INFO"


async def test_on_sigterm_readyz_turns_503_while_the_call_in_flight_finishes(emu: Emulator) -> None:
    emu.code_pause = 2.0  # the call is in the sandbox when the signal comes
    args = ["--base-url", emu.base_url, "--max-retries", "0", "--shutdown-grace", "30"]
    with http_server_process(*args, DASHSCOPE_API_KEY=PLANTED_KEY, QWEN_CI_MCP_AUTH_TOKEN=TOKEN) as server:
        progress = Progress()
        coding = progress.seen("running code #1")
        results: list[Any] = []

        async def one_call() -> None:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
                Client(streamable_http_client(server.url, http_client=http)) as client,
            ):
                results.append(
                    await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress)
                )

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg, httpx.AsyncClient(base_url=server.root, timeout=10) as http:
                tg.start_soon(one_call)
                await coding.wait()
                before = await http.get("/readyz")
                server.terminate()
                await anyio.to_thread.run_sync(lambda: server.wait_for("shutting down"))
                during = await http.get("/readyz")
                alive = await http.get("/healthz")

    assert before.status_code == 200
    assert during.status_code == 503 and during.json() == {"status": "shutting down"}
    assert alive.status_code == 200
    assert len(results) == 1 and not results[0].is_error  # the call in flight was let finish
