"""4. The layers on top of the core: the MCP tool (stdio and in-memory) and the LangChain tool.

Round trip of one call of the seed conversation, each layer against the core called directly
(same flavour: async for MCP, sync and async for LangChain), on warm sessions. The MCP rows are
judged against their floor: the MCP SDK's own bare ``MCPServer`` with one tool making the same core
call and returning the same record under the same output schema (``benchmarks/_bare_mcp.py``), in
memory and over stdio - what any MCP server wrapping the core costs, so the ratio to it is what our
server adds. Sessions are warm: every client is
opened, its MCP session initialised and its HTTP connection made before timing, as in an agent's
session. All layers run side by side: each round calls every layer once, in a rotating order, so
the machine's drift hits them alike. Wall time is the figure (over stdio the server's CPU is in
another process); the client process's CPU per call is shown too. MCP calls pass a progress
callback, as real clients do: our server then sends a notification per stage (five for the seed
call) and the floor none, so our rows carry that traffic (over stdio, five more messages the
client reads and parses per call). The LangChain tool is invoked with a tool call (a ``ToolCall``
dict, as an agent's tool node does) and returns a ``ToolMessage`` with the result as artifact.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import (
    API_KEY,
    BLOCK,
    MODEL,
    SEED_QUESTION,
    Session,
    interleaved,
    logging_kept,
    mcp_stdio_params,
    ratio,
    script_main,
    table,
)
from ._server import ServerProcess

TITLE = "4. MCP and LangChain layers over the core"
TOOL = "qwen_code_interpreter"


def _settings(base: str) -> dict[str, Any]:
    return {"api_key": API_KEY, "base_url": base, "model": MODEL, "max_retries": 0}


async def _progress(progress: float, total: float | None, message: str | None) -> None:
    pass


def _check_mcp(result: Any) -> None:
    if result.is_error:
        raise RuntimeError("the MCP tool returned an error: " + str(result.content[0].text)[:200])


def _check_tool_message(message: Any) -> None:
    if getattr(message, "status", None) == "error" or not getattr(message, "artifact", None):
        raise RuntimeError(f"the LangChain tool call failed: {str(getattr(message, 'content', message))[:200]}")


def _mcp_call(client: Any) -> Session:
    """One call of the tool through an open MCP client, with a progress callback as real clients pass."""

    async def one() -> None:
        _check_mcp(await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=_progress))

    return one


def _tool_call(name: str) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call_bench", "name": name, "args": {"question": SEED_QUESTION}}


# --- the sessions: each opens its client in the stack and returns one call -----------------------

Opener = Callable[[str, contextlib.AsyncExitStack], Awaitable[Session]]


async def core_async(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from qwen_ci_tool import AsyncCodeInterpreter

    ci = await stack.enter_async_context(AsyncCodeInterpreter(**_settings(base)))
    return lambda: ci.run(SEED_QUESTION)


async def core_sync(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from qwen_ci_tool import CodeInterpreter

    ci = stack.enter_context(CodeInterpreter(**_settings(base)))
    return lambda: ci.run(SEED_QUESTION)


async def mcp_memory(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from mcp import Client

    from mcp_server import create_server

    # Embedded in-process, the host application's logging rules (create_server leaves them alone;
    # kept here too, so that no server's set-up can add a handler that logs every later call).
    with logging_kept():
        server = create_server(**_settings(base), log_level="WARNING")
    client = await stack.enter_async_context(Client(server))

    return _mcp_call(client)


async def bare_memory(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from mcp import Client

    from ._bare_mcp import bare_server

    # The SDK's MCPServer() calls logging.basicConfig (a rich handler on the root logger, INFO) when
    # the root logger has none: left in place, every later in-process call of every row would render
    # its httpx request line (and our server its call line) to stderr, a cost of the console, not of MCP.
    with logging_kept():
        server = bare_server(_settings(base))
    client = await stack.enter_async_context(Client(server))

    return _mcp_call(client)


async def bare_stdio(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from mcp import Client
    from mcp.client.stdio import stdio_client

    from ._bare_mcp import stdio_params

    errlog = stack.enter_context(open(os.devnull, "w"))
    client = await stack.enter_async_context(
        Client(stdio_client(stdio_params(base, _settings(base)), errlog=errlog), mode="legacy")
    )

    return _mcp_call(client)


def mcp_stdio(*extra: str) -> Opener:
    async def opener(base: str, stack: contextlib.AsyncExitStack) -> Session:
        from mcp import Client
        from mcp.client.stdio import stdio_client

        errlog = stack.enter_context(open(os.devnull, "w"))
        client = await stack.enter_async_context(
            Client(stdio_client(mcp_stdio_params(base, *extra), errlog=errlog), mode="legacy")
        )

        return _mcp_call(client)

    return opener


async def langchain_sync(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from integrations.langchain import QwenCodeInterpreterTool

    tool = QwenCodeInterpreterTool(**_settings(base))
    return lambda: _check_tool_message(tool.invoke(_tool_call(tool.name)))


async def langchain_async(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from integrations.langchain import QwenCodeInterpreterTool

    tool = QwenCodeInterpreterTool(**_settings(base))

    async def one() -> None:
        _check_tool_message(await tool.ainvoke(_tool_call(tool.name)))

    return one


# name, label, opener, what it is compared with (the core, or for MCP rows the SDK's bare server)
LAYERS: list[tuple[str, str, Opener, str | None]] = [
    ("core-async", "core: AsyncCodeInterpreter.run", core_async, None),
    (
        "bare-memory",
        "floor: the SDK's bare MCPServer, one tool making the same call, in memory",
        bare_memory,
        "core-async",
    ),
    (
        "bare-stdio",
        "floor: the SDK's bare MCPServer over stdio (python -m benchmarks._bare_mcp)",
        bare_stdio,
        "core-async",
    ),
    ("mcp-memory", "MCP tool, in-memory: mcp.Client(server).call_tool (log level WARNING)", mcp_memory, "bare-memory"),
    (
        "mcp-stdio",
        "MCP tool, stdio: python -m mcp_server (default log level INFO, stderr to /dev/null)",
        mcp_stdio(),
        "bare-stdio",
    ),
    ("mcp-stdio-warning", "MCP tool, stdio, --log-level WARNING", mcp_stdio("--log-level", "WARNING"), "bare-stdio"),
    ("core-sync", "core: CodeInterpreter.run", core_sync, None),
    (
        "langchain-sync",
        "LangChain: QwenCodeInterpreterTool.invoke(tool call) -> ToolMessage",
        langchain_sync,
        "core-sync",
    ),
    (
        "langchain-async",
        "LangChain: QwenCodeInterpreterTool.ainvoke(tool call) -> ToolMessage",
        langchain_async,
        "core-async",
    ),
]


async def _side_by_side(
    base: str, calls: int, warmup: int
) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, str]]:
    samples: dict[str, tuple[list[float], list[float]]] = {}
    errors: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        sessions: dict[str, Session] = {}
        for name, _label, opener, _against in LAYERS:
            try:
                sessions[name] = await opener(base, stack)
            except ImportError as exc:
                errors[name] = f"not available ({exc})"
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"[:300]

        def sample(name: str, _value: Any, wall: float, cpu: float) -> None:
            walls, cpus = samples.setdefault(name, ([], []))
            walls.append(wall)
            cpus.append(cpu)

        errors.update(await interleaved(sessions, rounds=calls, warmup=warmup, sample=sample))
    return samples, errors


def run(quick: bool = False) -> dict[str, Any]:
    calls, warmup = (3, 1) if quick else (40, 5)
    rows: list[dict[str, Any]] = []
    with ServerProcess(seed=f"seed,block={BLOCK}") as srv:
        samples, errors = asyncio.run(_side_by_side(srv.urls["seed"], calls, warmup))
    medians = {name: statistics.median(walls) for name, (walls, _cpus) in samples.items()}
    for name, label, _opener, against in LAYERS:
        if name in errors or name not in samples:
            rows.append({"layer": name, "label": label, "error": errors.get(name, "no samples")})
            continue
        walls, cpus = samples[name]
        wall = medians[name]
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
            row["ratio"] = ratio(wall, medians[against])
        rows.append(row)
    return {"title": TITLE, "rows": rows, "calls": calls, "side_by_side": True}


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
                r.get("ratio"),
            ]
        )
    return table(["layer", "compared with", "wall ms/call", "p90 ms", "client CPU ms", "overhead ms", "× that"], out)


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
