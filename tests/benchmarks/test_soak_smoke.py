"""The soak benchmark runs (tiny input) and its leak checks can fail."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.soak import check


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
