"""Load and soak: rounds of hundreds of concurrent calls with random faults, in one async process.

Every call must end (a result or a QwenCIError) within its deadline; after every round the open
file descriptors and asyncio tasks must be back where the steady state has them, and memory must
stay flat across rounds. The emulator runs in a separate process, so what is counted here is the
client's alone. Faults are picked per call with the emulator's ``#fault=<name>`` directive.

    python -m benchmarks.soak                 # 5 rounds of 300 calls
    python -m benchmarks.soak --quick         # 2 rounds of 40 calls (what the test suite runs)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from qwen_ci_tool import AsyncCodeInterpreter, QwenCIError
from qwen_ci_tool.testing import SEED_QUESTION

from ._common import commit, load

RESULTS = Path(__file__).resolve().parent / "results"
#: Idle keep-alive connections the client's pool may hold (qwen_ci_tool._client._http_options).
KEEPALIVE = 20
#: The faults drawn from (None = a clean call). Stalls end through the client's idle timeout.
FAULTS = [
    None,
    None,
    None,
    "drop",
    "error_event",
    "malformed",
    "stall",
    "500",
    "429",
    "length",
    "crlf",
    "keepalive",
    "empty",
    "html",
    "chunks",
    "unknown",
]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - Linux only


def _start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qwen_ci_tool", "emulator", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    for word in line.split():
        if word.startswith("http://"):
            return proc, word
    proc.kill()
    raise RuntimeError(f"the emulator did not start: {line!r}")


async def _round(aci: AsyncCodeInterpreter, calls: int, rng: random.Random, deadline: float) -> dict[str, Any]:
    outcomes: collections.Counter[str] = collections.Counter()

    async def one() -> None:
        fault = rng.choice(FAULTS)
        question = SEED_QUESTION if fault is None else f"{SEED_QUESTION} #fault={fault}"
        try:
            result = await aci.run(question)
            outcomes[f"result:{result.status}"] += 1
        except QwenCIError as err:
            outcomes[type(err).__name__] += 1

    start = time.perf_counter()
    with anyio.fail_after(deadline):
        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(one)
    return {"seconds": round(time.perf_counter() - start, 3), "outcomes": dict(sorted(outcomes.items()))}


async def _settle(tasks_before: int, bound: float = 5.0) -> None:
    """Let closed connections' callbacks and tasks still closing end (a loaded machine is slow to run
    them), up to *bound* seconds: what is still there after it is counted as left over."""
    with anyio.move_on_after(bound):
        await asyncio.sleep(0)
        while len(asyncio.all_tasks()) > tasks_before:
            await asyncio.sleep(0.01)


async def soak(calls: int, rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    proc, base_url = _start_emulator()
    report: dict[str, Any] = {"calls_per_round": calls, "rounds": [], "seed": seed}
    try:
        fds_before, tasks_before = _open_fds(), len(asyncio.all_tasks())
        async with AsyncCodeInterpreter(
            api_key="sk-soak", base_url=base_url, idle_timeout=1.0, total_timeout=30, max_retries=1
        ) as aci:
            for index in range(rounds):
                row = await _round(aci, calls, rng, deadline=120)
                await _settle(tasks_before)
                row.update(
                    ended=sum(row["outcomes"].values()),
                    open_fds=_open_fds(),
                    tasks=len(asyncio.all_tasks()),
                    rss_mb=round(_rss_mb(), 1),
                )
                report["rounds"].append(row)
                print(
                    f"round {index + 1}: {row['ended']}/{calls} calls ended in {row['seconds']} s; "
                    f"fds {row['open_fds']}, tasks {row['tasks']}, RSS {row['rss_mb']} MB; {row['outcomes']}",
                    flush=True,
                )
        report.update(
            fds_before=fds_before,
            fds_after_close=_open_fds(),
            tasks_before=tasks_before,
            tasks_after=len(asyncio.all_tasks()),
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return report


def check(report: dict[str, Any]) -> list[str]:
    """The invariants; returns what failed (empty when all hold)."""
    problems = []
    rounds = report["rounds"]
    for i, row in enumerate(rounds, 1):
        if row["ended"] != report["calls_per_round"]:
            problems.append(f"round {i}: only {row['ended']} of {report['calls_per_round']} calls ended")
        if row["tasks"] > report["tasks_before"]:
            problems.append(f"round {i}: {row['tasks']} asyncio tasks left (before: {report['tasks_before']})")
    # The pool may keep up to KEEPALIVE idle connections between rounds; beyond that is a leak
    # (a leak of even 1% of the calls per round would pass the bound within a round or two).
    bound = report["fds_before"] + KEEPALIVE + 2
    for i, row in enumerate(rounds, 1):
        if row["open_fds"] > bound:
            problems.append(f"round {i}: {row['open_fds']} open fds (at most {bound} expected): a leak")
    if report["fds_after_close"] > report["fds_before"]:
        problems.append(
            f"{report['fds_after_close']} fds open after the client closed (before: {report['fds_before']})"
        )
    if len(rounds) >= 3:
        growth = rounds[-1]["rss_mb"] - rounds[1]["rss_mb"]
        if growth > max(10.0, 0.1 * rounds[1]["rss_mb"]):
            problems.append(f"RSS grew {growth:.1f} MB from round 2 to round {len(rounds)}: not flat")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 40 calls")
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/soak.json")
    args = parser.parse_args(argv)
    calls, rounds = (40, 2) if args.quick else (args.calls, args.rounds)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4 * calls + 256), hard), hard))
    before = load()
    report = asyncio.run(soak(calls, rounds, args.seed))
    report["machine"] = (
        f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    report.update(commit(), load_before=before, load_after=load())
    problems = check(report)
    report["problems"] = problems
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "soak.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if problems:
        print("SOAK FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"soak ok: every call ended in each of {rounds} rounds of {calls}; no fd or task leak; memory flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
