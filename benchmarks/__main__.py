"""``python -m benchmarks``: every benchmark in one run, tables of ratios, the targets, a JSON file.

    python -m benchmarks                 # the full run (about 5 minutes on 2 cores)
    python -m benchmarks --quick         # tiny inputs: checks that everything runs
    python -m benchmarks --parts 1,3     # some parts only
    python -m benchmarks --no-write      # print only

A full run writes ``benchmarks/results/latest.json`` (every figure, every sample, the machine) and
``benchmarks/results/latest.md`` (the tables, as the README shows them). ``--out DIR`` writes
there instead; a quick run writes only when given ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from typing import Any

from . import bench_batch, bench_concurrency, bench_cpu, bench_growth, bench_latency, bench_layers, bench_mcp_http
from ._common import commit, load, machine, machine_line, table

PARTS = {
    "1": bench_cpu,
    "2": bench_growth,
    "3": bench_concurrency,
    "4": bench_layers,
    "5": bench_latency,
    "6": bench_batch,
    "7": bench_mcp_http,
}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# --- targets -----------------------------------------------------------------------------------


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()) and "error" not in r:
            return r
    return None


def _target(name: str, wanted: str, measured: str, met: bool | None) -> dict[str, Any]:
    return {"target": name, "wanted": wanted, "measured": measured, "met": met}


def targets(parts: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cpu = parts.get("1")
    if cpu:
        rows = cpu["rows"]
        long = f"synthetic {cpu['long_events']:,}"
        floor = _row(rows, stream=long, contender="floor")
        afloor = _row(rows, stream=long, contender="floor-async")
        for flavour, fl in (("sync", floor), ("async", afloor)):
            ours = _row(rows, stream=long, contender=f"ours-{flavour}")
            typical = _row(rows, stream=long, contender="httpx-sse" if flavour == "sync" else "httpx-sse-async")
            if ours and fl and floor:
                r_same = ours["cpu_per_event_us"] / fl["cpu_per_event_us"]
                r_sync = ours["cpu_per_event_us"] / floor["cpu_per_event_us"]
                detail = f"{r_same:.2f}× the {'' if flavour == 'sync' else 'async '}floor"
                if flavour == "async":
                    detail += f" ({r_sync:.2f}× the sync floor)"
                if typical:
                    detail += f"; {ours['cpu_per_event_us'] / typical['cpu_per_event_us']:.2f}× {'' if flavour == 'sync' else 'async '}httpx-sse"
                out.append(
                    _target(
                        f"per-event CPU, {flavour} ({long})",
                        f"≤ 1.3× the {'' if flavour == 'sync' else 'async '}floor",
                        f"{ours['cpu_per_event_us']:.1f} µs/event = {detail}",
                        r_same <= 1.3,
                    )
                )
        ours = _row(rows, stream=long, contender="ours-sync")
        ds = _row(rows, stream=long, contender="dashscope")
        if ours and ds and floor:
            speedup = ds["cpu_per_event_us"] / ours["cpu_per_event_us"]
            out.append(
                _target(
                    "vs the dashscope SDK",
                    "about 2× less CPU per event",
                    f"{speedup:.2f}× less (dashscope SDK: {ds['cpu_per_event_us'] / floor['cpu_per_event_us']:.2f}× the floor)",
                    speedup >= 1.8,
                )
            )
    growth = parts.get("2")
    if growth:
        rows = growth["rows"]
        small, big = growth["sizes"][0], growth["sizes"][-1]
        for flavour in ("sync", "async"):
            name = f"ours-{flavour}"
            mine = sorted((r for r in rows if r["contender"] == name and "error" not in r), key=lambda r: r["events"])
            if len(mine) >= 2:
                a, b0 = mine[0], mine[-1]
                growth_ratio = b0["cpu_per_event_us"] / a["cpu_per_event_us"]
                res = b0.get("result_bytes", 0.0)
                mem_ok = b0["retained_bytes"] <= 1.1 * res + 0.5 * 2**20 and b0["peak_bytes"] <= 2 * res + 2**20
                out.append(
                    _target(
                        f"linear growth, {flavour} ({small:,} → {big:,} events)",
                        "CPU/event does not rise (≤ 1.15×); memory ≈ the result (retained ≤ 1.1× result + 0.5 MB, peak ≤ 2× result + 1 MB)",
                        f"CPU/event {growth_ratio:.2f}×; result {res / 2**20:.2f} MB, retained {b0['retained_bytes'] / 2**20:.2f} MB, "
                        f"peak {b0['peak_bytes'] / 2**20:.2f} MB",
                        growth_ratio <= 1.15 and mem_ok,
                    )
                )
    conc = parts.get("3")
    if conc:
        rows = [r for r in conc["rows"] if r["contender"] == "ours-async"]
        if rows:
            top = max(rows, key=lambda r: r["streams"])
            if "error" in top:
                out.append(
                    _target(f"{top['streams']:,} concurrent streams", "complete, < 300 MB RSS", top["error"], False)
                )
            else:
                out.append(
                    _target(
                        f"{top['streams']:,} concurrent streams, one process",
                        "all complete, peak RSS < 300 MB",
                        f"{top['completed']:,}/{top['streams']:,} in {top['wall_s']:.2f} s, peak RSS {top['peak_rss_mb']:.0f} MB",
                        top["completed"] == top["streams"] and top["peak_rss_mb"] < 300,
                    )
                )
    layers = parts.get("4")
    if layers:
        for layer, what in (("mcp-memory", "in memory"), ("mcp-stdio", "over stdio")):
            row = _row(layers["rows"], layer=layer)
            wanted = "≤ 1.25× the SDK's bare server making the same call"
            if row and row.get("ratio") is not None:
                floor_ms = row["wall_ms"] - row["overhead_ms"]
                out.append(
                    _target(
                        f"MCP tool {what}",
                        wanted,
                        f"{row['ratio']:.2f}× ({row['wall_ms']:.2f} vs {floor_ms:.2f} ms; +{row['overhead_ms']:.2f} ms)",
                        row["ratio"] <= 1.25,
                    )
                )
            else:
                out.append(
                    _target(f"MCP tool {what}", wanted, "not measured (MCP layer or its floor not available)", None)
                )
    batch = parts.get("6")
    if batch:
        for row in batch["rows"]:
            if row.get("limit") is not None and row.get("call_s") is not None:
                flavour = row["contender"].removeprefix("ours-")
                out.append(
                    _target(
                        f"batch at a start quota, {row['shape']}, {row['call_s']:g} s calls, {flavour}",
                        "≥ 90% of the quota sustained, every task completed and admitted once, CPU/task ≤ 1.5× unlimited",
                        f"{row['sustained_tasks_per_s']:.2f}/s at {row['limit']:g}/s ({row['vs_limit']:.2f}×), "
                        f"{row['completed']}/{row['tasks']} completed, {row['admitted_per_task']:.2f} admissions/task, "
                        f"CPU {row['cpu_vs_unlimited']:.2f}× unlimited",
                        row["vs_limit"] >= 0.9
                        and row["completed"] == row["tasks"]
                        and row["admitted_per_task"] == 1.0
                        and row["cpu_vs_unlimited"] <= 1.5,
                    )
                )
            elif row.get("limit") is not None:
                out.append(
                    _target(
                        f"batch at a rate limit, {row['contender'].removeprefix('ours-')}",
                        "sustained tasks/s within 10% of the limit, every task completed",
                        f"{row['sustained_tasks_per_s']:.1f}/s at {row['limit']:g}/s ({row['vs_limit']:.2f}×), "
                        f"{row['completed']}/{row['tasks']} completed, {row['cpu_ms_per_task']:.2f} ms CPU/task",
                        abs(row["vs_limit"] - 1.0) <= 0.10 and row["completed"] == row["tasks"],
                    )
                )
    return out


def render_targets(rows: list[dict[str, Any]]) -> str:
    mark = {True: "met", False: "MISSED", None: "-"}
    return table(
        ["target", "wanted", "measured", "status"],
        [[r["target"], r["wanted"], r["measured"], mark[r["met"]]] for r in rows],
        left=4,
    )


# --- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run, not figures")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated parts to run (default: all: 1,2,3,4,5,6,7)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write no files")
    parser.add_argument("--out", help="directory for latest.json / latest.md (default: benchmarks/results)")
    parser.add_argument("--json", action="store_true", help="also print the whole JSON document on stdout")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; parts are {', '.join(PARTS)}")

    m = machine()
    started = time.perf_counter()
    header = f"qwen-ci-tool benchmarks{' (--quick: tiny inputs, not figures)' if args.quick else ''}\nMachine: {machine_line(m)}\n"
    print(header, flush=True)
    doc: dict[str, Any] = {
        "schema": 2,  # 2: "floor" is the byte-level floor; httpx-sse rows; commit and load recorded
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": m,
        **commit(),
        "load_before": load(),
        "parts": {},
    }
    sections: list[str] = []
    for key in chosen:
        module = PARTS[key]
        t0 = time.perf_counter()
        data = module.run(args.quick)
        data["seconds"] = time.perf_counter() - t0
        doc["parts"][key] = data
        text = f"### {data['title']}\n\n{module.render(data)}\n"
        sections.append(text)
        print(text, flush=True)
    doc["targets"] = targets(doc["parts"])
    doc["seconds"] = time.perf_counter() - started
    doc["load_after"] = load()
    if doc["targets"]:
        text = f"### Targets\n\n{render_targets(doc['targets'])}\n"
        sections.append(text)
        print(text)
    print(f"({doc['seconds']:.0f} s)")

    out_dir = args.out or (None if args.quick else RESULTS)
    if out_dir and not args.no_write:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "latest.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        with open(os.path.join(out_dir, "latest.md"), "w", encoding="utf-8") as f:
            f.write(
                f"Machine: {machine_line(m)}; {doc['created']}; commit {doc['commit']}{' (uncommitted changes)' if doc['dirty'] else ''}\n\n"
                + "\n".join(sections)
            )
        print(f"wrote {os.path.join(out_dir, 'latest.json')} and latest.md")
    if args.json:
        print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
