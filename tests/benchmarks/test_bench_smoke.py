"""`python -m benchmarks` runs end to end on a tiny input and reports in the documented shape.

A smoke test, not a timed one: no figure is compared with any threshold here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import targets
from benchmarks._common import table

REPO = Path(__file__).resolve().parents[2]
TITLES = (
    "### 1. Per-event client CPU",
    "### 2. Growth with stream length",
    "### 3. Concurrent streams in one async process",
    "### 4. MCP and LangChain layers over the core",
    "### 5. Latency from upstream arrival",
    "### 6. Batch throughput at a rate limit (run_many)",
    "### 7. MCP over streamable HTTP: per-request latency and a run-handle round trip",
    "### Targets",
)
CORE = {
    "floor",
    "httpx-sse",
    "ours-sync",
    "ours-async",
    "floor-async",
    "httpx-sse-async",
    "floor-compat",
    "httpx-sse-compat",
    "ours-sync-compat",
    "core-sync",
    "core-async",
    "langchain-sync",
    "langchain-async",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert (out / "latest.md").read_text(encoding="utf-8").count("### ") == len(TITLES)
    return proc.stdout, doc


@pytest.mark.timeout(300)
def test_the_quick_run_prints_every_table_with_the_machine_named(quick_run: tuple[str, dict]) -> None:
    stdout, doc = quick_run
    assert stdout.startswith("qwen-ci-tool benchmarks (--quick")
    assert "Machine: " in stdout and doc["machine"]["python"] in stdout
    for title in TITLES:
        assert title in stdout, title
    assert "| contender" in stdout and "× floor" in stdout


@pytest.mark.timeout(300)
def test_the_json_holds_every_part_with_figures_for_the_core(quick_run: tuple[str, dict]) -> None:
    _, doc = quick_run
    assert doc["schema"] == 2 and doc["quick"] is True
    assert len(doc["commit"]) == 40 and isinstance(doc["dirty"], bool), "the result names the commit it measured"
    assert set(doc["load_before"]) == {"1min", "5min", "15min"} and doc["load_after"]
    assert set(doc["machine"]) >= {"platform", "cpu", "cores", "python", "packages"}
    parts = doc["parts"]
    assert set(parts) == {"1", "2", "3", "4", "5", "6", "7"}
    for key, part in parts.items():
        assert part["rows"], key
        for row in part["rows"]:
            name = row.get("contender") or row.get("layer")
            assert name, row
            if name in CORE:
                assert "error" not in row, row
    per_event = {(r["stream"], r["contender"]): r for r in parts["1"]["rows"]}
    floor = per_event[("seed", "floor")]
    assert floor["events"] == 54 and floor["ratio_vs_floor"] == 1.0 and floor["cpu_per_event_us"] > 0
    typical = per_event[("seed", "httpx-sse")]
    assert typical["events"] == 54 and typical["ratio_vs_httpx_sse"] == 1.0
    assert (
        per_event[("seed", "ours-async")]["ratio_vs_floor_async"] > 0
        and per_event[("seed", "ours-sync")]["ratio_vs_httpx_sse"] > 0
    )
    assert per_event[("seed", "ours-sync")]["cpu_per_event_us"] > 0
    growth = [r for r in parts["2"]["rows"] if r["contender"] == "ours-sync"]
    assert [r["events"] for r in growth] == parts["2"]["sizes"]
    assert all(r["peak_bytes"] > 0 and r["result_bytes"] > 0 for r in growth)
    for row in parts["3"]["rows"]:
        assert row["completed"] == row["streams"], row
        assert row["peak_rss_mb"] > 0
    assert {r["layer"] for r in parts["4"]["rows"]} >= {
        "core-async",
        "core-sync",
        "mcp-memory",
        "mcp-stdio",
        "bare-memory",
        "bare-stdio",
        "langchain-sync",
    }
    rows = {r["layer"]: r for r in parts["4"]["rows"]}
    assert rows["mcp-stdio"]["against"] == "bare-stdio" and rows["mcp-memory"]["against"] == "bare-memory"
    assert "error" not in rows["bare-stdio"] and rows["bare-stdio"]["wall_ms"] > 0, "the floor itself was measured"
    assert parts["4"]["side_by_side"] and parts["5"]["side_by_side"], "layers and latency interleave their contenders"
    assert all(r["samples"] > 0 for r in parts["5"]["rows"] if r["contender"] in CORE)
    batch = parts["6"]["rows"]
    assert {(r["contender"], r["limit"] is None) for r in batch} == {
        (c, free) for c in ("ours-sync", "ours-async") for free in (True, False)
    }
    assert all(
        r["completed"] == r["tasks"] and r["cpu_ms_per_task"] > 0 and r["sustained_tasks_per_s"] > 0 for r in batch
    )
    mcp_http = {r["contender"]: r for r in parts["7"]["rows"]}
    assert {
        "tools/list (legacy)",
        "tools/list (auto)",
        "result tool, finished run",
        "floor: bare uvicorn, same JSON",
    } <= set(mcp_http)
    assert all(r["median_ms"] > 0 and r["x_floor"] > 0 for r in mcp_http.values())
    assert {t["target"].split(" (")[0].split(",")[0] for t in doc["targets"]} >= {
        "per-event CPU",
        "vs the dashscope SDK",
        "linear growth",
        "MCP tool in memory",
        "MCP tool over stdio",
        "batch at a rate limit",
    }


def test_targets_are_judged_from_the_figures() -> None:
    rows = [
        {"stream": "synthetic 10", "contender": "floor", "cpu_per_event_us": 10.0},
        {"stream": "synthetic 10", "contender": "floor-async", "cpu_per_event_us": 12.0},
        {"stream": "synthetic 10", "contender": "ours-sync", "cpu_per_event_us": 14.0},
        {"stream": "synthetic 10", "contender": "ours-async", "cpu_per_event_us": 15.0},
        {"stream": "synthetic 10", "contender": "dashscope", "cpu_per_event_us": 25.0},
    ]
    judged = {t["target"]: t["met"] for t in targets({"1": {"rows": rows, "long_events": 10}})}
    assert judged == {
        "per-event CPU, sync (synthetic 10)": False,  # 1.4x the floor
        "per-event CPU, async (synthetic 10)": True,  # 1.25x the async floor
        "vs the dashscope SDK": False,  # 1.79x
    }


def test_tables_align_text_left_and_figures_right() -> None:
    text = table(["name", "value"], [["a", 1.5], ["bb", 1234.0]], left=1)
    assert text.splitlines() == [
        "| name | value |",
        "|------|------:|",
        "| a    |  1.50 |",
        "| bb   | 1,234 |",
    ]


def test_the_batch_target_is_the_sustained_rate_within_ten_percent_of_the_limit() -> None:
    def row(contender: str, ratio: float, completed: int = 10) -> dict:
        return {
            "contender": contender,
            "limit": 40.0,
            "sustained_tasks_per_s": 40.0 * ratio,
            "vs_limit": ratio,
            "tasks": 10,
            "completed": completed,
            "cpu_ms_per_task": 1.0,
        }

    free = {"contender": "ours-sync", "limit": None}
    parts = {"6": {"rows": [free, row("ours-sync", 0.95), row("ours-async", 0.85)]}}
    assert {t["target"]: t["met"] for t in targets(parts)} == {
        "batch at a rate limit, sync": True,
        "batch at a rate limit, async": False,
    }
    parts = {"6": {"rows": [row("ours-sync", 1.0, completed=9)]}}
    assert [t["met"] for t in targets(parts)] == [False]  # a lost task misses it whatever the rate


def test_the_start_quota_target_is_90_percent_each_task_admitted_once_and_cpu_within_1_5x() -> None:
    def row(ratio: float, admitted: float = 1.0, cpu: float = 1.2) -> dict:
        return {
            "contender": "ours-async",
            "shape": "evenly spaced",
            "call_s": 20.0,
            "limit": 10.0,
            "sustained_tasks_per_s": 10.0 * ratio,
            "vs_limit": ratio,
            "tasks": 160,
            "completed": 160,
            "admitted_per_task": admitted,
            "cpu_vs_unlimited": cpu,
        }

    judged = [t["met"] for t in targets({"6": {"rows": [row(0.92), row(0.89), row(0.95, 1.01), row(0.95, cpu=1.6)]}})]
    assert judged == [True, False, False, False]
    (name,) = {t["target"] for t in targets({"6": {"rows": [row(0.92)]}})}
    assert name == "batch at a start quota, evenly spaced, 20 s calls, async"


def test_the_mcp_target_is_a_ratio_to_the_sdks_bare_server_not_to_the_core() -> None:
    def row(layer: str, wall: float, floor: float) -> dict:
        return {"layer": layer, "wall_ms": wall, "overhead_ms": wall - floor, "ratio": wall / floor}

    parts = {"4": {"rows": [row("mcp-memory", 12.0, 10.0), row("mcp-stdio", 13.0, 10.0)]}}
    assert {t["target"]: t["met"] for t in targets(parts)} == {
        "MCP tool in memory": True,  # 1.20x the bare server
        "MCP tool over stdio": False,  # 1.30x
    }
    parts = {"4": {"rows": [{"layer": "mcp-stdio", "error": "not available"}]}}
    assert [t["met"] for t in targets(parts)] == [None, None], "an unmeasured layer is neither met nor missed"
