"""5. Latency: from an upstream event's arrival to the matching event, progress report or callback.

The emulator paces the seed conversation (one frame every few milliseconds, one write each) behind
a relay that notes ``time.monotonic()`` as it hands each frame to the client's socket (the
system-wide monotonic clock, so the client process - or the MCP server's - compares it with its
own). Each contender notes the time it sees each event: the floor after ``json.loads``, the core
as its iterator yields, the SDKs as they yield a chunk, the MCP client in its progress callback,
LangChain in a callback handler's ``on_custom_event`` (invoked with a tool call, as agents do).
Latency = that time minus the arrival of the latest frame before it. MCP and LangChain report
stage changes only, so they have fewer samples. The figure includes the loopback hop and the
client's wake-up, which the floor shows. All contenders run side by side on warm sessions: each
round makes one call of each, in a rotating order.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import (
    API_KEY,
    MODEL,
    SEED_QUESTION,
    DashScopeSDK,
    FloorSync,
    HttpxSSESync,
    OpenAISDK,
    Session,
    Unavailable,
    interleaved,
    logging_kept,
    mcp_stdio_params,
    percentile,
    script_main,
    table,
)
from ._server import ServerProcess

TITLE = "5. Latency from upstream arrival to event / progress / callback"
TOOL = "qwen_code_interpreter"
now = time.monotonic


def _settings(base: str) -> dict[str, Any]:
    return {"api_key": API_KEY, "base_url": base, "model": MODEL, "max_retries": 0}


# Each opener opens a warm client in the stack and returns one call, which returns the
# client-side times it noted.
Opener = Callable[[str, contextlib.AsyncExitStack], Awaitable[Session]]


async def _floor(base: str, stack: contextlib.AsyncExitStack) -> Session:
    c = FloorSync()
    c.open(base)
    stack.callback(c.close)
    loads = json.loads

    def one() -> list[float]:
        seen: list[float] = []
        rest = b""
        with c.client.stream("POST", c.url, headers=c.headers, content=c.body) as response:
            for chunk in response.iter_raw():
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line[:5] == b"data:":
                        loads(line[5:])
                        seen.append(now())
        return seen

    return one


async def _httpx_sse(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from httpx_sse import EventSource

    c = HttpxSSESync()
    c.open(base)
    stack.callback(c.close)

    def one() -> list[float]:
        seen: list[float] = []
        with c.client.stream("POST", c.url, headers=c.headers, content=c.body) as response:
            for sse in EventSource(response).iter_sse():
                json.loads(sse.data)
                seen.append(now())
        return seen

    return one


async def _ours_sync(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from qwen_ci_tool import CodeInterpreter

    ci = stack.enter_context(CodeInterpreter(**_settings(base)))

    def one() -> list[float]:
        with ci.stream(SEED_QUESTION) as stream:
            return [now() for _event in stream]

    return one


async def _ours_async(base: str, stack: contextlib.AsyncExitStack) -> Session:
    from qwen_ci_tool import AsyncCodeInterpreter

    ci = await stack.enter_async_context(AsyncCodeInterpreter(**_settings(base)))

    async def one() -> list[float]:
        async with ci.stream(SEED_QUESTION) as stream:
            return [now() async for _event in stream]

    return one


def _sdk(cls: type) -> Opener:
    async def opener(base: str, stack: contextlib.AsyncExitStack) -> Session:
        c = cls()
        c.open(base)
        stack.callback(c.close)

        def one() -> list[float]:
            # The SDK contenders count chunks; note the time of each one instead.
            return [now() for _chunk in c.stream()]

        return one

    return opener


def _mcp(stdio: bool) -> Opener:
    async def opener(base: str, stack: contextlib.AsyncExitStack) -> Session:
        from mcp import Client

        if stdio:
            from mcp.client.stdio import stdio_client

            errlog = stack.enter_context(open(os.devnull, "w"))
            client = await stack.enter_async_context(
                Client(stdio_client(mcp_stdio_params(base), errlog=errlog), mode="legacy")
            )
        else:
            from mcp_server import create_server

            with logging_kept():  # in-process, the host's logging rules apply
                server = create_server(**_settings(base), log_level="WARNING")
            client = await stack.enter_async_context(Client(server))

        async def one() -> list[float]:
            seen: list[float] = []

            async def progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(now())

            result = await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=progress)
            if result.is_error:
                raise RuntimeError("the MCP tool returned an error")
            return seen

        return one

    return opener


def _langchain(is_async: bool) -> Opener:
    async def opener(base: str, stack: contextlib.AsyncExitStack) -> Session:
        from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler

        from integrations.langchain import QwenCodeInterpreterTool

        tool = QwenCodeInterpreterTool(**_settings(base))
        call = {"type": "tool_call", "id": "call_bench", "name": tool.name, "args": {"question": SEED_QUESTION}}
        seen: list[float] = []

        class Sync(BaseCallbackHandler):
            def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
                seen.append(now())

        class Async(AsyncCallbackHandler):
            async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
                seen.append(now())

        def check(message: Any) -> list[float]:
            if getattr(message, "status", None) == "error":
                raise RuntimeError(f"the LangChain tool call failed: {str(message.content)[:200]}")
            out = list(seen)
            seen.clear()
            return out

        if is_async:

            async def one_async() -> list[float]:
                seen.clear()
                return check(await tool.ainvoke(call, config={"callbacks": [Async()]}))

            return one_async

        def one() -> list[float]:
            seen.clear()
            return check(tool.invoke(call, config={"callbacks": [Sync()]}))

        return one

    return opener


CONTENDERS: list[tuple[str, str, Opener]] = [
    ("floor", "body bytes, data: lines, after json.loads", _floor),
    ("httpx-sse", "httpx + httpx-sse, after json.loads", _httpx_sse),
    ("ours-sync", "CodeInterpreter.stream, event yielded", _ours_sync),
    ("ours-async", "AsyncCodeInterpreter.stream, event yielded", _ours_async),
    ("dashscope", "dashscope SDK, chunk yielded", _sdk(DashScopeSDK)),
    ("openai", "openai SDK (compatible endpoint), chunk yielded", _sdk(OpenAISDK)),
    ("mcp-memory", "MCP in-memory, progress callback", _mcp(stdio=False)),
    ("mcp-stdio", "MCP over stdio, progress callback", _mcp(stdio=True)),
    ("langchain-sync", "LangChain tool.invoke(tool call), on_custom_event", _langchain(False)),
    ("langchain-async", "LangChain tool.ainvoke(tool call), on_custom_event", _langchain(True)),
]


def _latencies(arrivals: list[float], seen: list[float]) -> list[float]:
    out = []
    for t in seen:
        i = bisect.bisect_right(arrivals, t)
        if i:
            out.append(t - arrivals[i - 1])
    return out


async def _side_by_side(srv: ServerProcess, calls: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    base = srv.urls["paced"]
    lat: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        sessions: dict[str, Session] = {}
        for name, _label, opener in CONTENDERS:
            try:
                one = await opener(base, stack)
            except (ImportError, Unavailable) as exc:
                errors[name] = f"not available ({exc})"
                continue
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            sessions[name] = _forgetting_earlier_frames(srv, one)

        def sample(name: str, seen: list[float], _wall: float, _cpu: float) -> None:
            lat.setdefault(name, []).extend(_latencies([t for t, _n in srv.times()], seen))

        # The first call of each warms it up and is not counted.
        errors.update(await interleaved(sessions, rounds=calls, warmup=1, sample=sample))
    return lat, errors


def _forgetting_earlier_frames(srv: ServerProcess, one: Session) -> Session:
    """The call, after the relay forgot the frames of earlier calls (only this call's count)."""

    def call() -> Any:
        srv.times()
        return one()

    return call


def run(quick: bool = False) -> dict[str, Any]:
    pace = 0.002 if quick else 0.005
    calls = 1 if quick else 4
    rows: list[dict[str, Any]] = []
    with ServerProcess(paced=f"seed,pace={pace},timed") as srv:
        lat, errors = asyncio.run(_side_by_side(srv, calls))
    for name, label, _opener in CONTENDERS:
        if name in errors:
            rows.append({"contender": name, "label": label, "error": errors[name]})
        elif not lat.get(name):
            rows.append({"contender": name, "label": label, "error": "no events matched"})
        else:
            values = lat[name]
            rows.append(
                {
                    "contender": name,
                    "label": label,
                    "samples": len(values),
                    "median_us": statistics.median(values) * 1e6,
                    "p90_us": percentile(values, 90) * 1e6,
                    "max_us": max(values) * 1e6,
                }
            )
    return {"title": TITLE, "rows": rows, "pace_s": pace, "calls": calls, "side_by_side": True}


def render(data: dict[str, Any]) -> str:
    out: list[list[Any]] = []
    for r in data["rows"]:
        if "error" in r:
            out.append([r["contender"], r["error"], None, None, None])
        else:
            out.append([r["contender"], r["samples"], r["median_us"], r["p90_us"], r["max_us"]])
    return table(["contender", "events", "median µs", "p90 µs", "max µs"], out, left=1)


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
