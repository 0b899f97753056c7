"""1. Per-event client CPU: the floor, httpx-sse, our core (sync and async), the dashscope and openai SDKs.

Every contender reads the same streams from the emulator, which runs in another process and
renders each stream whole before the first byte (then writes it in 64 KiB blocks), so the figure
is the client's own CPU (``time.process_time()``), not the server's pacing. Streams: the seed
conversation (54 native frames, 39 compatible chunks) and a long synthetic one (10,000 native
frames whose cumulative ``tool_info`` grows to three 2,000-character code runs).

Telemetry: ``ours-sync`` runs with ``opentelemetry-api`` installed and no SDK configured (the no-op
path every call takes by default); ``ours-sync-otel-off`` is the same client with the hook switched
off, and the ``ours-sync`` row's ``ratio_vs_otel_off`` is the cost of the no-op span and metrics.

The floor is the least any client must do: read the body bytes, split the ``data:`` lines,
``json.loads`` each and keep its text. httpx-sse (httpx + httpx-sse + json.loads, building nothing)
is the typical client. Every row has both ratios, against the sync floor and the sync httpx-sse
client of the same stream, and async rows also against the async floor and async httpx-sse.
Native-endpoint contenders read the native stream; the openai SDK (the compatible endpoint, which
carries no ``tool_info``) the compatible one, with its own floor.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._common import (
    BLOCK,
    DashScopeSDK,
    FloorAsync,
    FloorSync,
    HttpxSSEAsync,
    HttpxSSESync,
    OpenAISDK,
    OursAsync,
    OursSync,
    OursSyncTelemetryOff,
    measure,
    ratio,
    script_main,
    summary,
    table,
)
from ._server import ServerProcess

TITLE = "1. Per-event client CPU"


def _median(results: dict[str, Any], name: str) -> float | None:
    m = results.get(name)
    return summary(m.cpu)["median"] if m is not None and m.cpu else None


def _rows(results: dict[str, Any], events: int, stream: str, suffix: str = "") -> list[dict[str, Any]]:
    floor, typical = _median(results, "floor" + suffix), _median(results, "httpx-sse" + suffix)
    afloor, atypical = _median(results, "floor-async" + suffix), _median(results, "httpx-sse-async" + suffix)
    rows = []
    for name, m in results.items():
        if m.error or not m.cpu:
            rows.append({"stream": stream, "contender": name, "label": m.label, "error": m.error or "no samples"})
            continue
        cpu = summary(m.cpu)
        row = {
            "stream": stream,
            "contender": name,
            "label": m.label,
            "events": events,
            "cpu_per_call_ms": cpu["median"] * 1e3,
            "cpu_per_event_us": cpu["median"] / events * 1e6,
            "wall_per_call_ms": summary(m.wall)["median"] * 1e3,
            "ratio_vs_floor": ratio(cpu["median"], floor),
            "ratio_vs_httpx_sse": ratio(cpu["median"], typical),
            "cpu_samples_s": m.cpu,
        }
        if "async" in name:
            row["ratio_vs_floor_async"] = ratio(cpu["median"], afloor)
            row["ratio_vs_httpx_sse_async"] = ratio(cpu["median"], atypical)
        if name == "ours-sync":
            row["ratio_vs_otel_off"] = ratio(cpu["median"], _median(results, "ours-sync-otel-off"))
        rows.append(row)
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    long_n = 300 if quick else 10_000
    plans = [
        # stream, calls per sample, repeats
        ("seed", 2 if quick else 20, 2 if quick else 9),
        ("long", 1, 2 if quick else 7),
    ]
    warmup = 1 if quick else 2
    # The no-op API path is what "ours-sync" measures: the core loads the API once something has
    # imported OpenTelemetry, as an application that configures it does.
    importlib.import_module("opentelemetry.trace")

    rows: list[dict[str, Any]] = []
    with ServerProcess(seed=f"seed,block={BLOCK}", long=f"synthetic:{long_n},block={BLOCK}") as srv:
        for stream, calls, repeats in plans:
            base = srv.urls[stream]
            label = "seed" if stream == "seed" else f"synthetic {long_n:,}"
            native = measure(
                [
                    FloorSync(),
                    HttpxSSESync(),
                    OursSync(),
                    OursSyncTelemetryOff(),
                    FloorAsync(),
                    HttpxSSEAsync(),
                    OursAsync(),
                    DashScopeSDK(),
                ],
                base,
                repeats=repeats,
                calls=calls,
                warmup=warmup,
            )
            rows += _rows(native, native["floor"].events, label)
            compat = measure(
                [FloorSync("compat"), HttpxSSESync("compat"), OursSync("compat"), OpenAISDK()],
                base,
                repeats=repeats,
                calls=calls,
                warmup=warmup,
            )
            rows += _rows(compat, compat["floor-compat"].events, label + " (compatible)", "-compat")
    return {"title": TITLE, "rows": rows, "long_events": long_n}


def render(data: dict[str, Any]) -> str:
    out = []
    for row in data["rows"]:
        if "error" in row:
            out.append([row["stream"], row["contender"], "not available: " + row["error"], None, None, None, None])
        else:
            out.append(
                [
                    row["stream"],
                    row["contender"],
                    row["events"],
                    row["cpu_per_call_ms"],
                    row["cpu_per_event_us"],
                    row["ratio_vs_floor"],
                    row["ratio_vs_httpx_sse"],
                ]
            )
    return table(["stream", "contender", "events", "CPU ms/call", "CPU µs/event", "× floor", "× httpx-sse"], out)


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
