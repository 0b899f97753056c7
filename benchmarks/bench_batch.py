"""6. Batch throughput at the account's rate limit: ``run_many`` against a throttling emulator.

The emulator (another process) admits at most ``R`` starts per second and answers 429
``Throttling.RateQuota`` with a ``Retry-After`` beyond that. Two quota shapes: **bursts allowed** (a
token bucket holding a second's worth) and **evenly spaced** (no burst: a start sooner than ``1/R``
after the last admitted one is refused). ``run_many`` (sync: thread pool; async: anyio) sends seed
tasks through it, at a concurrency far above what the quota needs:

- calls that last milliseconds: ``40/s``, ``40 × SECONDS`` tasks, concurrency 8, bursts of 10;
- calls that last seconds (the emulator holds each stream's last event until then): ``10/s``, 160
  tasks, calls of 2 s at concurrency 64 and of 20 s at concurrency 256 (20 s calls at 10/s are 200
  at once: at 64 the concurrency, not the quota, would bound the batch at 3.2/s).

Paced starts go in groups where the service admitted calls started together (bursts allowed), single
where it refused them (evenly spaced): reported as "starts together".

Reported: sustained tasks per second (from the 21st completion to the last) against the quota - the
target is at least 90% (within 10% for the millisecond rows) - and over the whole run; how many times
the service admitted each task (the emulator's count: requests minus its 429s; the target is once);
the client's CPU per task (``time.process_time()`` of this process, the emulator excluded), against
the same batch, measured in the same run, against an emulator without a quota (target: within 1.5×).

Run alone, ``python -m benchmarks.bench_batch --calls 2,20 --contenders async`` measures only those
rows (call lengths ``ms``, ``2``, ``20``; each with its unlimited row, so the ratios hold).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

import anyio

from ._common import API_KEY, BLOCK, MODEL, SEED_QUESTION, script_parser, script_report, table
from ._server import ServerProcess

TITLE = "6. Batch throughput at a rate limit (run_many)"
CONCURRENCY = 8
BURST = 10
SKIP = 20  # completions before the sustained rate is measured
SHAPES = {"bursts allowed": "burst", "evenly spaced": "spaced"}


def _settings(base: str) -> dict[str, Any]:
    return {"api_key": API_KEY, "base_url": base, "model": MODEL}


def _sync(base: str, tasks: list[str], concurrency: int) -> dict[str, Any]:
    from qwen_ci_tool import AdaptiveLimiter, CodeInterpreter

    limiter = AdaptiveLimiter(concurrency)
    with CodeInterpreter(**_settings(base)) as ci:
        ci.run(SEED_QUESTION)  # warm: imports, first connection
        t0, w0 = time.process_time(), time.perf_counter()
        statuses, times = [], []
        for outcome in ci.run_many(tasks, limiter=limiter):
            statuses.append(outcome.status)
            times.append(time.perf_counter())
        wall, cpu = time.perf_counter() - w0, time.process_time() - t0
    return _row("ours-sync", statuses, times, wall, cpu, limiter)


def _async(base: str, tasks: list[str], concurrency: int) -> dict[str, Any]:
    from qwen_ci_tool import AdaptiveLimiter, AsyncCodeInterpreter

    limiter = AdaptiveLimiter(concurrency)

    async def main() -> tuple[list[str], list[float], float, float]:
        async with AsyncCodeInterpreter(**_settings(base)) as aci:
            await aci.run(SEED_QUESTION)
            t0, w0 = time.process_time(), time.perf_counter()
            statuses, times = [], []
            async for outcome in aci.run_many(tasks, limiter=limiter):
                statuses.append(outcome.status)
                times.append(time.perf_counter())
            return statuses, times, time.perf_counter() - w0, time.process_time() - t0

    statuses, times, wall, cpu = anyio.run(main)
    return _row("ours-async", statuses, times, wall, cpu, limiter)


def _row(
    contender: str, statuses: list[str], times: list[float], wall: float, cpu: float, limiter: Any
) -> dict[str, Any]:
    n = len(statuses)
    k = min(SKIP, n // 4)
    return {
        "contender": contender,
        "tasks": n,
        "concurrency": limiter.max_concurrency,
        "completed": statuses.count("completed"),
        "wall_s": wall,
        "tasks_per_s": n / wall,
        "sustained_tasks_per_s": (n - 1 - k) / (times[-1] - times[k]),
        "cpu_ms_per_task": cpu / n * 1e3,
        "rate_limited": limiter.rate_limited,
        "cuts": limiter.cuts,
        "learnt_rate": limiter.rate,
        "group": limiter.burst,
    }


Contender = Callable[[str, list[str], int], dict[str, Any]]
CONTENDERS: dict[str, Contender] = {"sync": _sync, "async": _async}


def _measure(
    srv: ServerProcess,
    free: str,
    limited: dict[str, str],
    n: int,
    concurrency: int,
    rate: float,
    call: float | None,
    contenders: Collection[str],
) -> list[dict[str, Any]]:
    """The same batch, sync and async, without a quota and with each quota shape (``limited``: shape
    to emulator name); each row labelled."""
    rows = []
    for fn in (CONTENDERS[name] for name in CONTENDERS if name in contenders):
        tasks = [SEED_QUESTION] * n
        base = fn(srv.urls[free], tasks, concurrency)
        base.update(shape=None, call_s=call, limit=None, vs_limit=None, cpu_vs_unlimited=1.0, admitted_per_task=1.0)
        rows.append(base)
        for shape, name in limited.items():
            before = srv.counts()[name]
            quota = fn(srv.urls[name], tasks, concurrency)
            requests, refused = (a - b for a, b in zip(srv.counts()[name], before, strict=True))
            quota.update(
                shape=shape,
                call_s=call,
                limit=rate,
                vs_limit=quota["sustained_tasks_per_s"] / rate,
                cpu_vs_unlimited=quota["cpu_ms_per_task"] / base["cpu_ms_per_task"],
                admitted_per_task=(requests - refused - 1) / n,  # minus the warm-up call
            )
            rows.append(quota)
    return rows


def run(
    quick: bool = False, *, calls: Collection[str] | None = None, contenders: Collection[str] = tuple(CONTENDERS)
) -> dict[str, Any]:
    """Every row, or those of the call lengths in ``calls`` (``"ms"`` and seconds: ``"2"``, ``"20"``)."""
    rate, seconds = (40.0, 1.0) if quick else (40.0, 10.0)
    n = int(rate * seconds)
    slow_rate, slow_tasks = (20.0, 24) if quick else (10.0, 160)
    lengths = [c for c in ((0.2,) if quick else (2.0, 20.0)) if calls is None or f"{c:g}" in calls]
    rows: list[dict[str, Any]] = []
    specs = {"free": f"seed,block={BLOCK}", "limited": f"seed,block={BLOCK},rate={rate:g},burst={BURST}"}
    for call in lengths:
        specs[f"free-{call:g}"] = f"seed,block={BLOCK},call={call:g}"
        specs[f"burst-{call:g}"] = f"seed,block={BLOCK},call={call:g},rate={slow_rate:g},burst={slow_rate:g}"
        specs[f"spaced-{call:g}"] = f"seed,block={BLOCK},call={call:g},rate={slow_rate:g}"
    with ServerProcess(**specs) as srv:
        if calls is None or "ms" in calls:
            rows += _measure(srv, "free", {"bursts allowed": "limited"}, n, CONCURRENCY, rate, None, contenders)
        for call in lengths:
            concurrency = 64 if call * slow_rate <= 64 else 256
            shapes = {shape: f"{key}-{call:g}" for shape, key in SHAPES.items()}
            rows += _measure(srv, f"free-{call:g}", shapes, slow_tasks, concurrency, slow_rate, call, contenders)
    return {
        "title": TITLE,
        "rows": rows,
        "rate": rate,
        "burst": BURST,
        "tasks": n,
        "concurrency": CONCURRENCY,
        "slow_rate": slow_rate,
        "slow_tasks": slow_tasks,
    }


def render(data: dict[str, Any]) -> str:
    out = []
    for r in data["rows"]:
        limit = "none" if r["limit"] is None else f"{r['limit']:g}/s, {r['shape']}"
        call = "ms" if r.get("call_s") is None else f"{r['call_s']:g} s"
        out.append(
            [
                r["contender"],
                limit,
                call,
                r.get("concurrency", data["concurrency"]),
                f"{r['completed']:,}/{r['tasks']:,}",
                r["sustained_tasks_per_s"],
                r["tasks_per_s"],
                "-" if r["vs_limit"] is None else f"{r['vs_limit']:.2f}",
                f"{r.get('admitted_per_task', 1.0):.2f}",
                r["cpu_ms_per_task"],
                f"{r['cpu_vs_unlimited']:.2f}",
                r["rate_limited"],
                "-" if r["limit"] is None else r.get("group", "-"),
            ]
        )
    note = (
        f"\n\nSeed tasks; calls of milliseconds: {data['tasks']:,} tasks, concurrency {data['concurrency']}, bucket "
        f"of {data['burst']}; calls of seconds: {data['slow_tasks']} tasks at {data['slow_rate']:g}/s. 429s: "
        "refusals the limiter saw (the batch sends the task again; each paused new starts for its Retry-After). "
        "Starts together: the size of the groups paced starts went in at the end (the most calls the service "
        "admitted started together, at most 4; 1 where it allows no burst)."
    )
    return (
        table(
            [
                "contender",
                "quota",
                "calls",
                "at once",
                "completed",
                "tasks/s sustained",
                "tasks/s overall",
                "sustained ÷ quota",
                "admitted per task",
                "CPU ms/task",
                "CPU × unlimited",
                "429s",
                "starts together",
            ],
            out,
        )
        + note
    )


def main() -> None:
    parser = script_parser(__doc__ or "")
    parser.add_argument("--calls", help="only these call lengths' rows, e.g. 'ms,2,20' (quick: 'ms,0.2')")
    parser.add_argument("--contenders", default="sync,async", help="'sync', 'async' or both (default)")
    args = parser.parse_args()
    contenders = args.contenders.split(",")
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s) {', '.join(sorted(unknown))}; choose from {', '.join(CONTENDERS)}")
    data = run(args.quick, calls=args.calls.split(",") if args.calls else None, contenders=contenders)
    script_report(TITLE, data, render, as_json=args.json)


if __name__ == "__main__":
    main()
