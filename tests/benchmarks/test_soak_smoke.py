"""The soak benchmark runs (tiny input) and its leak checks can fail."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from benchmarks.soak import _settle, check


def test_the_soak_runs_on_a_tiny_input_and_every_call_ends() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--quick", "--no-write"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "40/40 calls ended" in proc.stdout and "soak ok" in proc.stdout


def test_the_soak_checks_catch_unended_calls_leaked_fds_tasks_and_growing_memory() -> None:
    row = {"ended": 10, "open_fds": 10, "tasks": 1, "rss_mb": 50.0}
    good = {
        "calls_per_round": 10,
        "fds_before": 10,
        "fds_after_close": 10,
        "tasks_before": 1,
        "rounds": [dict(row) for _ in range(3)],
    }
    assert check(good) == []
    bad = {
        **good,
        "fds_after_close": 11,
        "rounds": [dict(row), {**row, "ended": 9, "open_fds": 40, "tasks": 3}, {**row, "rss_mb": 90.0}],
    }
    problems = " ".join(check(bad))
    for word in ("only 9 of 10", "open fds", "asyncio tasks", "RSS grew", "after the client closed"):
        assert word in problems, word


async def test_a_task_still_closing_after_a_round_is_waited_for_and_one_that_stays_is_left_to_count() -> None:
    before = len(asyncio.all_tasks())
    closing = asyncio.get_running_loop().create_task(asyncio.sleep(0.05))
    await _settle(before, bound=5.0)
    assert closing.done() and len(asyncio.all_tasks()) == before
    stays = asyncio.get_running_loop().create_task(asyncio.sleep(60))
    try:
        await _settle(before, bound=0.05)
        assert len(asyncio.all_tasks()) == before + 1  # a leak: the round reports it
    finally:
        stays.cancel()
