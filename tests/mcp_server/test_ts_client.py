"""The official TypeScript SDK client (npm `@modelcontextprotocol/sdk`) against the real server.

The test setup installs the SDK with npm into a cache directory (``ts_sdk``), and the driver
``ts/client.mjs`` runs next to it; the tests skip, saying why, only when Node/npm is missing or the
registry cannot be reached.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .conftest import REPO
from .processes import http_server_process, server_env
from .ts_sdk import ts_script

TRANSPORTS = ["http", "stdio"]


@pytest.fixture(scope="module")
def driver() -> Path:
    return ts_script("client.mjs")


class TsClient:
    """One run of the driver: its events arrive as they happen (``next``), bounded by a timeout."""

    def __init__(self, driver: Path, spec: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("node") or "node", str(driver), json.dumps(spec)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self._events.put(json.loads(line))
        self._events.put(None)

    def next(self, timeout: float = 60) -> dict[str, Any] | None:
        event = self._events.get(timeout=timeout)  # bounded: queue.Empty after the timeout
        if event is not None:
            self.events.append(event)
        return event

    def until(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        while (event := self.next(timeout)) is not None:
            if predicate(event):
                return event
        raise AssertionError(f"the client ended first; stderr: {self.stderr()}")

    def finish(self, timeout: float = 60) -> list[dict[str, Any]]:
        while self.next(timeout) is not None:
            pass
        assert self.proc.wait(timeout=timeout) == 0, self.stderr()
        return self.events

    def stderr(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        assert self.proc.stderr is not None
        with self.proc.stderr:
            return self.proc.stderr.read()[-3000:]


@pytest.fixture
def run_ts(driver: Path) -> Iterator[Any]:
    started: list[TsClient] = []

    def run(spec: dict[str, Any]) -> TsClient:
        started.append(TsClient(driver, spec))
        return started[-1]

    yield run
    for client in started:
        if client.proc.poll() is None:
            client.proc.kill()
        client.proc.wait(timeout=10)
        if client.proc.stderr is not None and not client.proc.stderr.closed:
            client.proc.stderr.close()


def results(events: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    return [e for e in events if e.get("step") == step and "ok" in e]


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Any:
    """Builds the driver's connection spec for a server on *emu* over the parametrized transport."""

    def make(emu: Emulator, *args: str) -> Any:
        options = ["--base-url", emu.base_url, "--max-retries", "0", *args]
        if request.param == "http":
            server = http_server_process(*options, DASHSCOPE_API_KEY=PLANTED_KEY)
            return server, lambda s: {"transport": "http", "url": s.url}
        stdio = {
            "transport": "stdio",
            "command": sys.executable,
            "args": ["-m", "mcp_server", *options],
            "env": server_env(DASHSCOPE_API_KEY=PLANTED_KEY),
            "cwd": str(REPO),
        }
        return _NoServer(), lambda _: stdio

    return make


class _NoServer:
    """Over stdio the client starts the server itself."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("target", TRANSPORTS, indirect=True)
def test_ts_client_with_its_default_timeout_gets_a_long_run_through_its_handle(run_ts: Any, target: Any) -> None:
    with Emulator(code_pause=1.0) as emu:
        server_cm, connect = target(emu, "--max-wait", "0.2")
        with server_cm as server:
            spec = {
                **connect(server),
                "steps": [{"op": "list"}, {"op": "poll", "name": TOOL_NAME, "args": {"question": SEED_QUESTION}}],
            }
            events = run_ts(spec).finish()

    (listing,) = results(events, 0)
    assert [t["name"] for t in listing["result"]["tools"]] == [TOOL_NAME, RESULT_TOOL_NAME]
    calls = results(events, 1)
    assert all(e["ok"] for e in calls), calls  # the client checked each result against the output schema
    assert calls[0]["result"]["structuredContent"]["status"] == "running"
    final = calls[-1]["result"]
    assert not final.get("isError") and SEED_ANSWER in final["content"][0]["text"]
    assert next(e for e in events if "polls" in e)["polls"] >= 1
    assert len(emu.requests) == 1


@pytest.mark.parametrize("target", TRANSPORTS, indirect=True)
def test_ts_client_sees_the_titles_icons_and_annotations(run_ts: Any, target: Any) -> None:
    from .test_metadata import check_server, check_tools

    with Emulator() as emu:
        server_cm, connect = target(emu)
        with server_cm as server:
            events = run_ts({**connect(server), "steps": [{"op": "server"}, {"op": "list"}]}).finish()

    (server_info,) = results(events, 0)
    (listing,) = results(events, 1)
    check_server(server_info["result"])
    check_tools(listing["result"]["tools"])
    assert PLANTED_KEY not in json.dumps(events)


@pytest.mark.parametrize("target", TRANSPORTS, indirect=True)
def test_ts_client_timeout_closes_the_upstream_request_and_frees_the_slot(run_ts: Any, target: Any) -> None:
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=60))
        server_cm, connect = target(emu, "--max-wait", "0", "--max-concurrency", "1")
        with server_cm as server:
            question = {"question": SEED_QUESTION}
            steps = [
                {"op": "call", "name": TOOL_NAME, "args": question, "options": {"timeout": 1000}},
                {"op": "call", "name": TOOL_NAME, "args": question, "options": {"timeout": 30000}},
            ]
            # With one slot and a 60 s stall, the second call can only run if the first one's
            # upstream request was closed when the client timed out.
            events = run_ts({**connect(server), "steps": steps}).finish()

    (timed_out,) = results(events, 0)
    assert not timed_out["ok"] and timed_out["code"] == -32001  # the SDK's RequestTimeout
    (second,) = results(events, 1)
    assert second["ok"] and SEED_ANSWER in second["result"]["content"][0]["text"]  # the slot was free again
    assert len(emu.requests) == 2


def test_ts_client_over_http_gets_its_call_delivered_when_the_server_is_sent_sigterm(run_ts: Any) -> None:
    with (
        Emulator(code_pause=1.5) as emu,
        http_server_process(
            "--base-url", emu.base_url, "--max-wait", "0", "--shutdown-grace", "30", DASHSCOPE_API_KEY=PLANTED_KEY
        ) as server,
    ):
        steps = [{"op": "call", "name": TOOL_NAME, "args": {"question": SEED_QUESTION}}]
        client = run_ts({"transport": "http", "url": server.url, "steps": steps})
        client.until(lambda e: "running code" in str(e.get("progress")))
        server.terminate()
        events = client.finish()
        assert server.wait() == 0

    (result,) = results(events, 0)
    assert result["ok"] and SEED_ANSWER in result["result"]["content"][0]["text"]


def test_ts_client_over_stdio_gets_a_clear_error_for_a_lone_surrogate(run_ts: Any) -> None:
    with Emulator() as emu:
        spec = {
            "transport": "stdio",
            "command": sys.executable,
            "args": ["-m", "mcp_server", "--base-url", emu.base_url],
            "env": server_env(DASHSCOPE_API_KEY=PLANTED_KEY),
            "cwd": str(REPO),
            "steps": [
                {"op": "call", "name": TOOL_NAME, "args": {"question": "x \ud800 y"}, "options": {"timeout": 20000}},
                {"op": "call", "name": TOOL_NAME, "args": {"question": SEED_QUESTION}},
            ],
        }
        events = run_ts(spec).finish()

    (bad,) = results(events, 0)
    assert not bad["ok"] and bad["code"] == -32700 and "lone UTF-16 surrogate" in bad["message"]
    (good,) = results(events, 1)
    assert good["ok"]
    assert len(emu.requests) == 1
