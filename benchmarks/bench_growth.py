"""2. Growth with stream length: 1k -> 10k -> 100k native frames with growing ``tool_info``.

Time: client CPU per event (median of repeats) must not rise with the stream's length. Memory:
the peak of traced Python allocations during one call (``tracemalloc``, a separate call from the
timed ones) and what stays allocated after it, next to the size of the result's own strings: the
core may hold what the result needs and a bounded working set, not a copy per event.
"""

from __future__ import annotations

import sys
from typing import Any

from ._common import (
    BLOCK,
    Contender,
    DashScopeSDK,
    FloorSync,
    OursAsync,
    OursSync,
    measure,
    ratio,
    script_main,
    summary,
    table,
    traced_peak,
)
from ._server import ServerProcess

TITLE = "2. Growth with stream length"


def result_bytes(result: Any) -> int:
    """Bytes of the distinct strings a :class:`CodeInterpreterResult` holds."""
    seen: dict[int, int] = {}
    texts = [result.answer, result.reasoning, *(s.text for s in result.steps), *(r.code for r in result.code_runs)]
    for t in texts:
        seen[id(t)] = sys.getsizeof(t)
    return sum(seen.values())


def _probe(c: Contender) -> dict[str, float]:
    if hasattr(c, "result"):
        c.result = None  # type: ignore[attr-defined]  # so that "retained" counts the new result
    peak, retained = traced_peak(c)
    out = {"peak_bytes": peak, "retained_bytes": retained}
    result = getattr(c, "result", None)
    if result is not None:
        out["result_bytes"] = float(result_bytes(result))
    return out


def run(quick: bool = False) -> dict[str, Any]:
    sizes = [100, 1_000] if quick else [1_000, 10_000, 100_000]
    rows: list[dict[str, Any]] = []
    specs = {f"n{n}": f"synthetic:{n},block={BLOCK}" for n in sizes}
    with ServerProcess(**specs) as srv:
        for n in sizes:
            if quick:
                calls, repeats, warmup = 2, 2, 1
            elif n <= 1_000:
                calls, repeats, warmup = 10, 7, 2
            elif n <= 10_000:
                calls, repeats, warmup = 1, 5, 2
            else:
                calls, repeats, warmup = 1, 3, 1
            results = measure(
                [FloorSync(), OursSync(), OursAsync(), DashScopeSDK()],
                srv.urls[f"n{n}"],
                repeats=repeats,
                calls=calls,
                warmup=warmup,
                probe=_probe,
            )
            events = results["floor"].events
            floor_cpu = summary(results["floor"].cpu)["median"] if results["floor"].cpu else None
            for name, m in results.items():
                if m.error or not m.cpu:
                    rows.append({"events": n, "contender": name, "error": m.error or "no samples"})
                    continue
                cpu = summary(m.cpu)["median"]
                row: dict[str, Any] = {
                    "events": events,
                    "contender": name,
                    "cpu_per_event_us": cpu / events * 1e6,
                    "wall_per_event_us": summary(m.wall)["median"] / events * 1e6,
                    "ratio_vs_floor": ratio(cpu, floor_cpu),
                    "cpu_samples_s": m.cpu,
                }
                row.update(m.probe or {})
                rows.append(row)
    # Growth: cost per event and memory at each size relative to the smallest size.
    smallest = sizes[0]
    base = {r["contender"]: r for r in rows if r["events"] == smallest and "error" not in r}
    for r in rows:
        b = base.get(r["contender"])
        if b is not None and "error" not in r:
            r["per_event_vs_smallest"] = ratio(r["cpu_per_event_us"], b["cpu_per_event_us"])
    return {"title": TITLE, "rows": rows, "sizes": sizes}


def render(data: dict[str, Any]) -> str:
    out = []
    for r in data["rows"]:
        if "error" in r:
            out.append([f"{r['events']:,}", r["contender"], "not available: " + r["error"]] + [None] * 5)
            continue
        mb = 2**20
        out.append(
            [
                f"{r['events']:,}",
                r["contender"],
                r["cpu_per_event_us"],
                r["ratio_vs_floor"],
                r.get("per_event_vs_smallest"),
                r["peak_bytes"] / mb,
                r["retained_bytes"] / mb,
                r["result_bytes"] / mb if "result_bytes" in r else None,
            ]
        )
    first = f"{data['sizes'][0]:,}"
    return table(
        [
            "events",
            "contender",
            "CPU µs/event",
            "× floor",
            f"µs/event ÷ at {first}",
            "peak MB",
            "retained MB",
            "result MB",
        ],
        out,
    )


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
