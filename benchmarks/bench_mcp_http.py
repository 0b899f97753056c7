"""7. The MCP server over streamable HTTP: per-request latency and the cost of a run-handle round trip.

``qwen-ci-mcp --transport streamable-http`` against the emulator, driven by the official Python
client on one kept-alive connection. Per-request latency is ``tools/list`` (the smallest request a
client makes) in both client modes, against the floor: one request/response on the same machine to
a bare uvicorn app answering the same size of JSON (TCP_NODELAY set there too). Without
TCP_NODELAY on accepted sockets every such request waited ~40 ms for the delayed ACK.

A run-handle round trip is what a client pays when a call is answered with a run handle: one
``qwen_code_interpreter_result(run_id)`` call that returns the finished result, set against a whole
call of the seed question (which includes the emulated service).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import API_KEY, ROOT, SEED_QUESTION, python_server, ratio, script_main, table

TITLE = "7. MCP over streamable HTTP: per-request latency and a run-handle round trip"
TOOL = "qwen_code_interpreter"
RESULT_TOOL = "qwen_code_interpreter_result"


def _start_server(base_url: str) -> tuple[subprocess.Popen[str], str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ROOT, "DASHSCOPE_API_KEY": API_KEY}
    http = ["-m", "mcp_server", "--transport", "streamable-http", "--port", "0"]
    proc = python_server([*http, "--base-url", base_url, "--max-retries", "0", "--max-wait", "0.05"], env)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        if match := re.search(r"listening on (http://\S+)", line):
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
            return proc, match.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError("the MCP server did not start")


def _floor_server(body: bytes) -> tuple[Any, threading.Thread, str]:
    """A bare uvicorn app answering every request with *body*, as JSON, with TCP_NODELAY."""
    import uvicorn

    from mcp_server.http.app import listening_socket

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    sock = listening_socket(config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}/"


async def _timed(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def _measure(url: str, requests: int, calls: int) -> dict[str, list[float]]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    samples: dict[str, list[float]] = {}
    listing: bytes = b""
    for mode in ("legacy", "auto"):
        async with Client(streamable_http_client(url), mode=mode) as client:
            await _timed(5, client.list_tools)
            samples[f"tools/list ({mode})"] = await _timed(requests, client.list_tools)
            listing = json.dumps((await client.list_tools()).model_dump(mode="json", by_alias=True)).encode()
    async with Client(streamable_http_client(url), mode="legacy") as client:
        question = {"question": SEED_QUESTION}
        first = await client.call_tool(TOOL, question)
        run_id = (first.structured_content or {}).get("run_id")
        assert run_id, "the emulator's code pause outlasts --max-wait: the first answer is a handle"
        while (await client.call_tool(RESULT_TOOL, {"run_id": run_id})).structured_content.get("status") == "running":  # type: ignore[union-attr]
            pass
        samples["result tool, finished run"] = await _timed(
            calls, lambda: client.call_tool(RESULT_TOOL, {"run_id": run_id})
        )
        samples["whole call (handle, then result)"] = await _timed(
            max(3, calls // 10), lambda: _whole(client, question)
        )
    server, thread, floor_url = _floor_server(listing)
    try:
        async with httpx2.AsyncClient() as http:
            await _timed(5, lambda: http.post(floor_url, content=b"{}"))
            samples["floor: bare uvicorn, same JSON"] = await _timed(
                requests, lambda: http.post(floor_url, content=b"{}")
            )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return samples


async def _whole(client: Any, question: dict[str, str]) -> None:
    result = await client.call_tool(TOOL, question)
    while (result.structured_content or {}).get("status") == "running":
        result = await client.call_tool(RESULT_TOOL, {"run_id": result.structured_content["run_id"]})


def run(quick: bool = False) -> dict[str, Any]:
    from qwen_ci_tool.testing import Emulator

    requests, calls = (10, 3) if quick else (300, 40)
    # The code pause (0.2 s) outlasts --max-wait (0.05 s): every call is answered with a handle first.
    with Emulator(code_pause=0.2) as emu:
        proc, url = _start_server(emu.base_url)
        try:
            samples = asyncio.run(_measure(url, requests, calls))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    floor = statistics.median(samples["floor: bare uvicorn, same JSON"])
    rows = []
    for name, values in samples.items():
        median = statistics.median(values)
        rows.append(
            {
                "contender": name,
                "n": len(values),
                "median_ms": median * 1e3,
                "p90_ms": sorted(values)[int(0.9 * (len(values) - 1))] * 1e3,
                "x_floor": ratio(median, floor),
            }
        )
    return {"title": TITLE, "rows": rows}


def render(data: dict[str, Any]) -> str:
    return table(
        ["measure", "n", "median ms", "p90 ms", "× floor"],
        [[r["contender"], r["n"], r["median_ms"], r["p90_ms"], r["x_floor"]] for r in data["rows"]],
    )


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
