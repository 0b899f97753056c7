"""3. Concurrency: N simultaneous streams (100, 500, 1,000) in one async process.

Each (contender, N) runs in a fresh child process, so that its peak RSS (``ru_maxrss``) is its
own: the process imports, warms up with one call, then starts N calls of the seed conversation at
once on one shared client and waits for all of them. Reported: wall time, throughput, the
child's CPU time, peak RSS, and the RSS it had before the N calls. Peak RSS is the child's ``VmHWM``. The emulator (another process)
listens with a deep backlog and serves every stream from one asyncio loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from ._common import BLOCK, ROOT, peak_rss_mb, proc_status_mb, raise_nofile, script_main, table
from ._server import ServerProcess

TITLE = "3. Concurrent streams in one async process"
CONTENDERS = ("floor-async", "ours-async")


def _child(contender: str, n: int, base: str) -> dict[str, Any]:
    """Runs in the child process."""
    import asyncio

    limits = raise_nofile()
    from ._common import FloorAsync, OursAsync

    c = FloorAsync() if contender == "floor-async" else OursAsync()

    async def main() -> dict[str, Any]:
        c.open(base)
        await c.call()  # warm: imports, first connection
        rss_before = _rss_now_mb()
        failures: list[str] = []

        async def one() -> None:
            try:
                await c.call()
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")

        t0, w0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = time.perf_counter() - w0
        cpu = time.process_time() - t0
        await c.client.aclose()
        return {
            "contender": contender,
            "streams": n,
            "completed": n - len(failures),
            "failures": failures[:3],
            "wall_s": wall,
            "cpu_s": cpu,
            "streams_per_s": (n - len(failures)) / wall,
            "rss_before_mb": rss_before,
            "peak_rss_mb": peak_rss_mb(),
            "nofile_limit": limits[0],
        }

    return asyncio.run(main())


def _rss_now_mb() -> float:
    """Resident set size now (Linux; NaN elsewhere)."""
    rss = proc_status_mb("VmRSS")
    return float("nan") if rss is None else rss


def run(quick: bool = False) -> dict[str, Any]:
    counts = [10, 50] if quick else [100, 500, 1_000]
    rows: list[dict[str, Any]] = []
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with ServerProcess(seed=f"seed,block={BLOCK}") as srv:
        for n in counts:
            for contender in CONTENDERS:
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.bench_concurrency",
                        "--child",
                        contender,
                        str(n),
                        srv.urls["seed"],
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=300,
                )
                if proc.returncode != 0:
                    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                    rows.append({"contender": contender, "streams": n, "error": tail})
                    continue
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {"title": TITLE, "rows": rows, "stream": "seed (54 native frames)"}


def render(data: dict[str, Any]) -> str:
    out = []
    for r in data["rows"]:
        if "error" in r:
            out.append([r["streams"], r["contender"], "failed: " + r["error"]] + [None] * 5)
            continue
        out.append(
            [
                f"{r['streams']:,}",
                r["contender"],
                f"{r['completed']:,}",
                r["wall_s"],
                r["streams_per_s"],
                r["cpu_s"],
                r["peak_rss_mb"],
                r["rss_before_mb"],
            ]
        )
    limits = sorted({r["nofile_limit"] for r in data["rows"] if "nofile_limit" in r})
    note = f"\n\nStream: {data['stream']}; open-files limit in the client: {', '.join(map(str, limits)) or '?'}."
    return (
        table(
            ["streams", "contender", "completed", "wall s", "streams/s", "CPU s", "peak RSS MB", "RSS before MB"], out
        )
        + note
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
        return
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
