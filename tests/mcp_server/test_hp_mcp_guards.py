"""Behaviours of the MCP server that breaks no mutation tool makes left unguarded (issue 26, helper hp-mcp's hand
pass): a default replaced by another constant, a format spec, a loop's ``break``/``continue``, a content type.
Each test fails with its break."""

from __future__ import annotations

import json
import logging
import re
import socket
import time

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mcp_server import DEFAULT_MAX_WAIT, RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server.__main__ import build_parser
from mcp_server._logs import JSONFormatter
from mcp_server._ops import Ops
from mcp_server.http.app import security_settings
from mcp_server.http.routes import OpsMiddleware
from mcp_server.runs import MemoryRunStore, RunRecord, memory, new_run_id
from mcp_server.runs.progress import Progress
from qwen_ci_tool import __version__
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_guards_patterns import _Ctx
from .test_run_rules import collect
from .test_tool import text_of
from .test_transport_guards_http import App, client, gate

pytestmark = pytest.mark.anyio


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_every_default_the_help_of_qwen_ci_mcp_states_is_the_value_it_uses_when_the_flag_is_absent() -> None:
    parser = build_parser()
    parsed = vars(parser.parse_args([]))
    stated = {}
    for action in parser._actions:
        said = re.search(r"\(default ([^;)]+)|default: (\w+)", action.help or "")
        # the core's settings default to None here (the core resolves them): tests/test_setting_flags.py
        if said is not None and action.dest in parsed and action.dest not in SETTINGS:
            stated[action.dest] = said.group(1) or said.group(2)
    assert stated == {dest: _shown(parsed[dest]) for dest in stated}
    # every flag whose help names a default is checked (a help rewording must not drop one silently)
    assert set(stated) >= {
        "transport",
        "host",
        "port",
        "max_concurrency",
        "max_output_chars",
        "max_wait",
        "result_ttl",
        "shutdown_grace",
    }


async def test_the_texts_about_a_run_give_a_fractional_wait_and_ttl_as_set_not_rounded() -> None:
    with Emulator(code_pause=0.5) as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05, result_ttl=2.5)
        async with Client(server) as client:
            with anyio.fail_after(20):
                tools = {tool.name: tool for tool in (await client.list_tools()).tools}
                first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                unknown = await client.call_tool(RESULT_TOOL_NAME, {"run_id": "run_nope"})

    description = " ".join((tools[RESULT_TOOL_NAME].description or "").split())
    assert "Waits up to 0.05 s" in description and "Results are kept 2.5 s after a run ends" in description
    assert (first.structured_content or {}).get("status") == "running"
    assert "it waits up to 0.05 s" in text_of(first) and "The result is kept for 2.5 s after the run ends" in text_of(
        first
    )
    assert "results are kept 2.5 s after a run ends" in text_of(unknown)


async def test_a_heartbeat_counts_the_time_since_the_call_started_in_whole_seconds() -> None:
    ctx = _Ctx()
    progress = Progress(ctx, 5.0)  # type: ignore[arg-type]
    await progress.report("thinking")
    progress._started -= 100.4  # the call began 100.4 s ago; the last report 10 s ago
    progress._last -= 10.0
    await progress.beat_if_due()
    assert ctx.sent[-1][2] == "thinking (still working, 100 s elapsed)"


async def test_a_full_memory_store_drops_only_as_many_finished_runs_as_it_must_the_oldest_first() -> None:
    store = MemoryRunStore(max_runs=3, clock=lambda: 2.0)

    def finished() -> RunRecord:
        return RunRecord(new_run_id(), started_at=0.0).advanced(
            state="finished", result={"content": []}, finished_at=1.0
        )

    older, newer, running = finished(), finished(), RunRecord(new_run_id(), started_at=0.0)
    for record in (older, newer, running):
        await store.put(record)
    await store.put(RunRecord(new_run_id(), started_at=0.0))  # one over: one finished run goes, the oldest
    assert len(store) == 3
    assert await store.get(older.run_id) is None
    assert await store.get(newer.run_id) is not None and await store.get(running.run_id) is not None


async def test_by_default_the_memory_store_keeps_a_finished_result_600_s() -> None:
    now = [0.0]
    store = MemoryRunStore(clock=lambda: now[0])
    record = RunRecord(new_run_id(), started_at=0.0).advanced(state="finished", result={"content": []}, finished_at=0.0)
    await store.put(record)
    now[0] = 599.0
    assert await store.get(record.run_id) is not None
    now[0] = 600.0
    assert await store.get(record.run_id) is None


async def test_metrics_are_served_as_the_prometheus_text_format_with_its_version() -> None:
    async with client(OpsMiddleware(App(), Ops(), None)) as http:
        with anyio.fail_after(10):
            response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST  # "text/plain; version=...; charset=utf-8"
    assert "# TYPE qwen_ci_calls_in_flight gauge" in response.text


async def test_a_proxys_request_id_of_up_to_128_characters_is_kept_and_a_longer_one_replaced() -> None:
    longest, too_long = "r" * 128, "r" * 129
    async with client(OpsMiddleware(App(), Ops(), None)) as http:
        with anyio.fail_after(10):
            kept = await http.get("/elsewhere", headers={"X-Request-Id": longest})
            replaced = await http.get("/elsewhere", headers={"X-Request-Id": too_long})
    assert kept.headers["x-request-id"] == longest
    assert len(replaced.headers["x-request-id"]) == 32 and replaced.headers["x-request-id"] != too_long


@pytest.mark.parametrize("params", [None, [7], "7"], ids=["null", "a-list", "a-string"])
async def test_a_cancel_whose_params_are_not_an_object_reaches_the_app_untouched_over_http(params: object) -> None:
    cancel = json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}).encode()
    app = App()
    async with gate(app) as http:
        with anyio.fail_after(10):
            response = await http.post("/mcp", content=cancel)
    assert response.status_code == 200 and app.bodies == [cancel]


async def test_by_default_the_server_holds_a_call_50_s_and_keeps_results_600_s_as_its_result_tool_says() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        with anyio.fail_after(10):
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    description = " ".join((tools[RESULT_TOOL_NAME].description or "").split())
    assert f"Waits up to {DEFAULT_MAX_WAIT:g} s" in description and DEFAULT_MAX_WAIT == 50
    assert "Results are kept 600 s after a run ends" in description


def test_a_json_log_stamp_writes_its_milliseconds_with_three_digits() -> None:
    record = logging.LogRecord("mcp_server", logging.INFO, __file__, 1, "hello", (), None)
    record.created = 1_700_000_001.0071  # 7 ms into the second
    entry = json.loads(JSONFormatter(lambda text: text).format(record))
    assert entry["time"] == "2023-11-14T22:13:21.007Z"


async def test_without_a_shared_store_a_collected_result_expires_after_the_servers_result_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = [0.0]  # seconds added to the wall clock the memory store reads
    monkeypatch.setattr(memory, "_now", lambda: time.time() + later[0])
    with Emulator(code_pause=0.5) as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05, result_ttl=60)
        async with Client(server) as client:
            with anyio.fail_after(20):
                handle = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                run_id = str((handle.structured_content or {}).get("run_id"))
                done = await collect(client, run_id)
                later[0] = 30.0
                kept = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
                later[0] = 61.0
                gone = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
    assert not done.is_error and text_of(kept) == text_of(done)
    assert gone.is_error and "has no run" in text_of(gone)


def test_a_wildcard_bind_accepts_this_machines_short_and_full_host_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "box")
    monkeypatch.setattr(socket, "getfqdn", lambda: "box.corp.example")
    settings = security_settings("0.0.0.0")
    assert settings is not None and settings.enable_dns_rebinding_protection
    for name in ("box", "box.corp.example"):
        assert {name, f"{name}:*"} <= set(settings.allowed_hosts)
        assert {f"http://{name}", f"https://{name}:*"} <= set(settings.allowed_origins)


async def test_the_server_tells_clients_its_own_version_not_the_sdks() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        info = client.server_info
    assert info is not None and info.version == __version__


#: The seed's stream stalls here after its first code run has arrived (before the answer).
STALL_AFTER_THE_CODE = 60


async def test_a_run_cancelled_at_shutdown_answers_with_the_reasoning_its_call_asked_for() -> None:
    answers: list[CallToolResult] = []
    coding = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message == "running code #1":
            coding.set()

    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=STALL_AFTER_THE_CODE, seconds=30))
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0)
        async with Client(server) as client:
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:

                    async def ask() -> None:
                        arguments = {"question": SEED_QUESTION, "include_reasoning": True}
                        answers.append(await client.call_tool(TOOL_NAME, arguments, progress_callback=on_progress))

                    tg.start_soon(ask)
                    await coding.wait()
                    await server_runtime(server).drain(0.2)

    (answer,) = answers
    reasoning = str((answer.structured_content or {}).get("reasoning"))
    assert answer.is_error and "was cancelled: the server is shutting down" in text_of(answer)
    assert reasoning and reasoning in text_of(answer)
