"""6. Batch throughput at the account's rate limit: ``run_many`` against a throttling emulator.

The emulator (another process) answers 429 ``Throttling.RateQuota`` with a ``Retry-After`` above
``RATE`` requests per second (a token bucket holding a quarter of a second's requests).
``run_many`` (sync: thread pool; async: anyio) sends ``RATE × SECONDS`` seed-conversation tasks
through it at concurrency 8, far more than the limit needs. Reported: sustained tasks per second
(from the task after the bucket's first two bursts to the last) against the limit - the target is
within 10% - and over the whole run; the client's CPU per task (``time.process_time()`` of this
process, the emulator excluded); and, as the baseline measured in the same run, the same batch
against an emulator without a limit.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._common import API_KEY, BLOCK, MODEL, SEED_QUESTION, script_main, table
from ._server import ServerProcess

TITLE = "6. Batch throughput at a rate limit (run_many)"
CONCURRENCY = 8
BURST = 10


def _settings(base: str) -> dict[str, Any]:
    return {"api_key": API_KEY, "base_url": base, "model": MODEL}


def _sync(base: str, n: int) -> dict[str, Any]:
    from qwen_ci_tool import AdaptiveLimiter, CodeInterpreter

    limiter = AdaptiveLimiter(CONCURRENCY)
    with CodeInterpreter(**_settings(base)) as ci:
        ci.run(SEED_QUESTION)  # warm: imports, first connection
        t0, w0 = time.process_time(), time.perf_counter()
        statuses, times = [], []
        for outcome in ci.run_many([SEED_QUESTION] * n, limiter=limiter):
            statuses.append(outcome.status)
            times.append(time.perf_counter())
        wall, cpu = time.perf_counter() - w0, time.process_time() - t0
    return _row("ours-sync", n, statuses, times, wall, cpu, limiter)


def _async(base: str, n: int) -> dict[str, Any]:
    from qwen_ci_tool import AdaptiveLimiter, AsyncCodeInterpreter

    limiter = AdaptiveLimiter(CONCURRENCY)

    async def main() -> tuple[list[str], list[float], float, float]:
        async with AsyncCodeInterpreter(**_settings(base)) as aci:
            await aci.run(SEED_QUESTION)
            t0, w0 = time.process_time(), time.perf_counter()
            statuses, times = [], []
            async for outcome in aci.run_many([SEED_QUESTION] * n, limiter=limiter):
                statuses.append(outcome.status)
                times.append(time.perf_counter())
            return statuses, times, time.perf_counter() - w0, time.process_time() - t0

    statuses, times, wall, cpu = anyio.run(main)
    return _row("ours-async", n, statuses, times, wall, cpu, limiter)


def _row(
    contender: str, n: int, statuses: list[str], times: list[float], wall: float, cpu: float, limiter: Any
) -> dict[str, Any]:
    k = min(2 * BURST, n // 4)
    return {
        "contender": contender,
        "tasks": n,
        "completed": statuses.count("completed"),
        "wall_s": wall,
        "tasks_per_s": n / wall,
        "sustained_tasks_per_s": (n - 1 - k) / (times[-1] - times[k]),
        "cpu_ms_per_task": cpu / n * 1e3,
        "rate_limited": limiter.rate_limited,
        "cuts": limiter.cuts,
        "final_concurrency": limiter.concurrency,
    }


def run(quick: bool = False) -> dict[str, Any]:
    rate, seconds = (40.0, 1.0) if quick else (40.0, 10.0)
    n = int(rate * seconds)
    rows: list[dict[str, Any]] = []
    with ServerProcess(free=f"seed,block={BLOCK}", limited=f"seed,block={BLOCK},rate={rate:g},burst={BURST}") as srv:
        for name, fn in (("ours-sync", _sync), ("ours-async", _async)):
            base = fn(srv.urls["free"], n)
            limited = fn(srv.urls["limited"], n)
            base.update(limit=None, vs_limit=None, cpu_vs_unlimited=1.0)
            limited.update(
                limit=rate,
                vs_limit=limited["sustained_tasks_per_s"] / rate,
                cpu_vs_unlimited=limited["cpu_ms_per_task"] / base["cpu_ms_per_task"],
            )
            rows += [base, limited]
            del name
    return {"title": TITLE, "rows": rows, "rate": rate, "burst": BURST, "tasks": n, "concurrency": CONCURRENCY}


def render(data: dict[str, Any]) -> str:
    out = []
    for r in data["rows"]:
        limit = "none" if r["limit"] is None else f"{r['limit']:g}/s"
        out.append(
            [
                r["contender"],
                limit,
                f"{r['completed']:,}/{r['tasks']:,}",
                r["sustained_tasks_per_s"],
                r["tasks_per_s"],
                "-" if r["vs_limit"] is None else f"{r['vs_limit']:.2f}",
                r["cpu_ms_per_task"],
                f"{r['cpu_vs_unlimited']:.2f}",
                r["rate_limited"],
                r["final_concurrency"],
            ]
        )
    note = (
        f"\n\n{data['tasks']:,} seed tasks, concurrency {data['concurrency']}, bucket of {data['burst']}; 429s: calls the limiter saw "
        "throttled after the client's own retries (each pauses new starts for its Retry-After)."
    )
    return (
        table(
            [
                "contender",
                "limit",
                "completed",
                "tasks/s sustained",
                "tasks/s overall",
                "sustained ÷ limit",
                "CPU ms/task",
                "CPU × unlimited",
                "429s",
                "final concurrency",
            ],
            out,
        )
        + note
    )


def main() -> None:
    script_main(__doc__ or "", TITLE, run, render)


if __name__ == "__main__":
    main()
