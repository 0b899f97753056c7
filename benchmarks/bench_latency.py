"""5. Latency: from an upstream event's arrival to the matching event, progress report or callback.

The emulator paces the seed conversation (one frame every few milliseconds, one write each) behind
a relay that notes ``time.monotonic()`` as it hands each frame to the client's socket (the
system-wide monotonic clock, so the client process - or the MCP server's - compares it with its
own). Each contender notes the time it sees each event: the floor after ``json.loads``, the core
as its iterator yields, the SDKs as they yield a chunk, the MCP client in its progress callback,
LangChain in a callback handler's ``on_custom_event``. Latency = that time minus the arrival of
the latest frame before it. MCP and LangChain report stage changes only, so they have fewer
samples. The figure includes the loopback hop and the client's wake-up, which the floor shows.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from ._common import (
    API_KEY,
    MODEL,
    SEED_QUESTION,
    DashScopeSDK,
    FloorSync,
    OpenAISDK,
    Unavailable,
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


# Each runner: (base, calls, done) makes ``calls`` calls on one warm client and calls
# ``done(timestamps)`` after each with the client-side times it noted.
Done = Callable[[list[float]], None]
Runner = Callable[[str, int, Done], None]


def _floor(base: str, calls: int, done: Done) -> None:
    from httpx_sse import EventSource

    c = FloorSync()
    c.open(base)
    for _ in range(calls):
        seen: list[float] = []
        with c.client.stream("POST", c.url, headers=c.headers, content=c.body) as response:
            for sse in EventSource(response).iter_sse():
                json.loads(sse.data)
                seen.append(now())
        done(seen)
    c.close()


def _ours_sync(base: str, calls: int, done: Done) -> None:
    from qwen_ci_tool import CodeInterpreter

    with CodeInterpreter(**_settings(base)) as ci:
        for _ in range(calls):
            seen: list[float] = []
            with ci.stream(SEED_QUESTION) as stream:
                for _event in stream:
                    seen.append(now())
            done(seen)


def _ours_async(base: str, calls: int, done: Done) -> None:
    from qwen_ci_tool import AsyncCodeInterpreter

    async def main() -> None:
        async with AsyncCodeInterpreter(**_settings(base)) as ci:
            for _ in range(calls):
                seen: list[float] = []
                async with ci.stream(SEED_QUESTION) as stream:
                    async for _event in stream:
                        seen.append(now())
                done(seen)

    asyncio.run(main())


def _sdk(cls: type) -> Runner:
    def runner(base: str, calls: int, done: Done) -> None:
        c = cls()
        c.open(base)
        for _ in range(calls):
            seen: list[float] = []
            # The SDK contenders count chunks; note the time of each one instead.
            if isinstance(c, DashScopeSDK):
                chunks = c.stream()
            else:
                chunks = c.client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": SEED_QUESTION}],
                    stream=True,
                    stream_options={"include_usage": True},
                    extra_body={"enable_code_interpreter": True, "enable_thinking": True},
                )
            for _chunk in chunks:
                seen.append(now())
            done(seen)
        c.close()

    return runner


def _mcp(stdio: bool) -> Runner:
    def runner(base: str, calls: int, done: Done) -> None:
        from mcp import Client

        async def main() -> None:
            seen: list[float] = []

            async def progress(progress: float, total: float | None, message: str | None) -> None:
                seen.append(now())

            async with contextlib.AsyncExitStack() as stack:
                if stdio:
                    from mcp.client.stdio import stdio_client

                    params = mcp_stdio_params(base)
                    errlog = stack.enter_context(open(os.devnull, "w"))
                    client = await stack.enter_async_context(Client(stdio_client(params, errlog=errlog), mode="legacy"))
                else:
                    from mcp_server import create_server

                    with logging_kept():  # in-process, the host's logging rules apply
                        server = create_server(**_settings(base), log_level="WARNING")
                    client = await stack.enter_async_context(Client(server))
                for _ in range(calls):
                    seen = []
                    result = await client.call_tool(TOOL, {"question": SEED_QUESTION}, progress_callback=progress)
                    if result.is_error:
                        raise RuntimeError("the MCP tool returned an error")
                    done(seen)

        asyncio.run(main())

    return runner


def _langchain(is_async: bool) -> Runner:
    def runner(base: str, calls: int, done: Done) -> None:
        from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler

        from integrations.langchain import QwenCodeInterpreterTool

        tool = QwenCodeInterpreterTool(**_settings(base))
        seen: list[float] = []

        class Sync(BaseCallbackHandler):
            def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
                seen.append(now())

        class Async(AsyncCallbackHandler):
            async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
                seen.append(now())

        for _ in range(calls):
            seen.clear()
            if is_async:
                asyncio.run(tool.ainvoke({"question": SEED_QUESTION}, config={"callbacks": [Async()]}))
            else:
                tool.invoke({"question": SEED_QUESTION}, config={"callbacks": [Sync()]})
            done(list(seen))

    return runner


CONTENDERS: list[tuple[str, str, Runner]] = [
    ("floor", "httpx + httpx-sse, after json.loads", _floor),
    ("ours-sync", "CodeInterpreter.stream, event yielded", _ours_sync),
    ("ours-async", "AsyncCodeInterpreter.stream, event yielded", _ours_async),
    ("dashscope", "dashscope SDK, chunk yielded", _sdk(DashScopeSDK)),
    ("openai", "openai SDK (compatible endpoint), chunk yielded", _sdk(OpenAISDK)),
    ("mcp-memory", "MCP in-memory, progress callback", _mcp(stdio=False)),
    ("mcp-stdio", "MCP over stdio, progress callback", _mcp(stdio=True)),
    ("langchain-sync", "LangChain tool.invoke, on_custom_event", _langchain(False)),
    ("langchain-async", "LangChain tool.ainvoke, on_custom_event", _langchain(True)),
]


def _latencies(arrivals: list[float], seen: list[float]) -> list[float]:
    out = []
    for t in seen:
        i = bisect.bisect_right(arrivals, t)
        if i:
            out.append(t - arrivals[i - 1])
    return out


def run(quick: bool = False) -> dict[str, Any]:
    pace = 0.002 if quick else 0.005
    calls = 1 if quick else 4
    rows: list[dict[str, Any]] = []
    with ServerProcess(paced=f"seed,pace={pace},timed") as srv:
        base = srv.urls["paced"]
        for name, label, runner in CONTENDERS:
            per_call: list[list[float]] = []

            def done(seen: list[float]) -> None:
                per_call.append(_latencies([t for t, _n in srv.times()], seen))

            lat: list[float] = []
            try:
                srv.times()  # forget earlier pieces
                runner(base, calls + 1, done)  # the first call warms up and is not counted
                for x in per_call[1:]:
                    lat += x
            except (ImportError, Unavailable) as exc:
                rows.append({"contender": name, "label": label, "error": f"not available ({exc})"})
                continue
            except Exception as exc:
                rows.append({"contender": name, "label": label, "error": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            if not lat:
                rows.append({"contender": name, "label": label, "error": "no events matched"})
                continue
            rows.append(
                {
                    "contender": name,
                    "label": label,
                    "samples": len(lat),
                    "median_us": statistics.median(lat) * 1e6,
                    "p90_us": percentile(lat, 90) * 1e6,
                    "max_us": max(lat) * 1e6,
                }
            )
    return {"title": TITLE, "rows": rows, "pace_s": pace, "calls": calls}


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
