"""4. The layers on top of the core: the MCP tool (stdio and in-memory) and the LangChain tool.

Round trip of one call of the seed conversation, each layer against the core called directly
(same flavour: async for MCP, sync and async for LangChain), on a warm client: the MCP session
is initialised and the server's HTTP client connected before timing, as in an agent's session.
Wall time is the figure (over stdio the server's CPU is in another process); the client
process's CPU per call is shown too. MCP calls pass a progress callback, as real clients do.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import API_KEY, BLOCK, MODEL, SEED_QUESTION, logging_kept, mcp_stdio_params, ratio, script_main, table
from ._server import ServerProcess

TITLE = "4. MCP and LangChain layers over the core"
TOOL = "qwen_code_interpreter"


def _settings(base: str) -> dict[str, Any]:
    return {"api_key": API_KEY, "base_url": base, "model": MODEL, "max_retries": 0}


async def _progress(progress: float, total: float | None, message: str | None) -> None:
    pass


def _time_sync(fn: Callable[[], Any], calls: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(calls):
        t0, w0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - t0)
    return walls, cpus


async def _time_async(fn: Callable[[], Awaitable[Any]], calls: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        await fn()
    walls, cpus = [], []
    for _ in range(calls):
        t0, w0 = time.process_time(), time.perf_counter()
        await fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - t0)
    return walls, cpus


def _check_mcp(result: Any) -> None:
    if result.is_error:
        raise RuntimeError("the MCP tool returned an error: " + str(result.content[0].text)[:200])


# --- the contenders ------------------------------------------------------------------------------


def core_sync(base: str, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    from qwen_ci_tool import CodeInterpreter

    with CodeInterpreter(**_settings(base)) as ci:
        return _time_sync(lambda: ci.run(SEED_QUESTION), calls, warmup)


def core_async(base: str, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    from qwen_ci_tool import AsyncCodeInterpreter

    async def main() -> tuple[list[float], list[float]]:
        async with AsyncCodeInterpreter(**_settings(base)) as ci:
            return await _time_async(lambda: ci.run(SEED_QUESTION), calls, warmup)

    return asyncio.run(main())


def mcp_memory(base: str, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    from mcp import Client

    from mcp_server import create_server

    # Embedded in-process, the host application's logging rules; create_server's basicConfig
    # (a rich handler on the root logger, INFO) would log every request of every later benchmark.
    with logging_kept():
        server = create_server(**_settings(base), log_level="WARNING")

    async def main() -> tuple[list[float], list[float]]:
        async with Client(server) as client:

            async def one() -> None:
                _check_mcp(await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=_progress))

            return await _time_async(one, calls, warmup)

    return asyncio.run(main())


def mcp_stdio(base: str, calls: int, warmup: int, *extra: str) -> tuple[list[float], list[float]]:
    from mcp import Client
    from mcp.client.stdio import stdio_client

    params = mcp_stdio_params(base, *extra)

    async def main() -> tuple[list[float], list[float]]:
        with open(os.devnull, "w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:

                async def one() -> None:
                    _check_mcp(await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=_progress))

                return await _time_async(one, calls, warmup)

    return asyncio.run(main())


def langchain_sync(base: str, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    from integrations.langchain import QwenCodeInterpreterTool

    tool = QwenCodeInterpreterTool(**_settings(base))
    return _time_sync(lambda: tool.invoke({"question": SEED_QUESTION}), calls, warmup)


def langchain_async(base: str, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    from integrations.langchain import QwenCodeInterpreterTool

    tool = QwenCodeInterpreterTool(**_settings(base))

    async def main() -> tuple[list[float], list[float]]:
        return await _time_async(lambda: tool.ainvoke({"question": SEED_QUESTION}), calls, warmup)

    return asyncio.run(main())


# name, label, function, the core it is compared with
LAYERS: list[tuple[str, str, Callable[[str, int, int], tuple[list[float], list[float]]], str | None]] = [
    ("core-async", "core: AsyncCodeInterpreter.run", core_async, None),
    ("mcp-memory", "MCP tool, in-memory: mcp.Client(server).call_tool (log level WARNING)", mcp_memory, "core-async"),
    ("mcp-stdio", "MCP tool, stdio: python -m mcp_server (default log level INFO, stderr to /dev/null)", mcp_stdio, "core-async"),
    (
        "mcp-stdio-warning",
        "MCP tool, stdio, --log-level WARNING",
        lambda base, calls, warmup: mcp_stdio(base, calls, warmup, "--log-level", "WARNING"),
        "core-async",
    ),
    ("core-sync", "core: CodeInterpreter.run", core_sync, None),
    ("langchain-sync", "LangChain: QwenCodeInterpreterTool.invoke", langchain_sync, "core-sync"),
    ("langchain-async", "LangChain: QwenCodeInterpreterTool.ainvoke", langchain_async, "core-async"),
]


def run(quick: bool = False) -> dict[str, Any]:
    calls, warmup = (3, 1) if quick else (40, 5)
    rows: list[dict[str, Any]] = []
    with ServerProcess(seed=f"seed,block={BLOCK}") as srv:
        base = srv.urls["seed"]
        medians: dict[str, float] = {}
        for name, label, fn, against in LAYERS:
            try:
                walls, cpus = fn(base, calls, warmup)
            except ImportError as exc:
                rows.append({"layer": name, "label": label, "error": f"not available ({exc})"})
                continue
            except Exception as exc:
                rows.append({"layer": name, "label": label, "error": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            wall = statistics.median(walls)
            medians[name] = wall
            row: dict[str, Any] = {
                "layer": name,
                "label": label,
                "calls": calls,
                "wall_ms": wall * 1e3,
                "wall_p90_ms": sorted(walls)[int(0.9 * (len(walls) - 1))] * 1e3,
                "client_cpu_ms": statistics.median(cpus) * 1e3,
                "against": against,
            }
            if against is not None and against in medians:
                row["overhead_ms"] = (wall - medians[against]) * 1e3
                row["ratio_vs_core"] = ratio(wall, medians[against])
            rows.append(row)
    return {"title": TITLE, "rows": rows, "calls": calls}


def render(data: dict[str, Any]) -> str:
    out = []
    for r in data["rows"]:
        if "error" in r:
            out.append([r["layer"], r["error"]] + [None] * 5)
            continue
        out.append(
            [
                r["layer"],
                r.get("against") or "-",
                r["wall_ms"],
                r["wall_p90_ms"],
                r["client_cpu_ms"],
                r.get("overhead_ms"),
                r.get("ratio_vs_core"),
            ]
        )
    return table(["layer", "compared with", "wall ms/call", "p90 ms", "client CPU ms", "overhead ms", "× core"], out)


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
