"""Behaviours audit 8 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import signal
import subprocess

import pytest

from mcp_server.__main__ import build_parser
from mcp_server.runs import MemoryRunStore, RunRecord, new_run_id
from qwen_ci_tool.testing import Emulator, Fault

from .test_lifecycle import read_until, send, stdio_call_at


def test_over_stdio_a_second_signal_while_the_call_drains_exits_at_once() -> None:
    # The upstream stream stalls for a minute and the grace is 30 s: only the second signal ends it this soon.
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=60))
        with stdio_call_at(emu, "thinking", "--shutdown-grace", "30") as proc:
            proc.send_signal(signal.SIGTERM)
            send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            refused = read_until(proc, lambda m: m.get("id") == 2)  # the first signal was taken: draining
            assert "shutting down" in refused["error"]["message"]
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail("a second SIGTERM did not end the stdio server at once: it waited for the grace")
    assert code == -signal.SIGTERM  # the first signal's handler is gone: the second ends the process as it does


async def test_by_default_the_memory_run_store_keeps_1000_runs_as_the_readme_says_then_drops_the_oldest() -> None:
    store = MemoryRunStore(clock=lambda: 2.0)
    first = RunRecord(new_run_id(), started_at=0.0).advanced(state="finished", result={"content": []}, finished_at=1.0)
    await store.put(first)
    for _ in range(999):
        await store.put(RunRecord(new_run_id(), started_at=0.0))
    assert len(store) == 1000 and await store.get(first.run_id) is not None
    await store.put(RunRecord(new_run_id(), started_at=0.0))
    assert len(store) == 1000 and await store.get(first.run_id) is None


def test_qwen_ci_mcp_keeps_a_finished_result_600_s_by_default_as_its_help_and_the_readme_say() -> None:
    parser = build_parser()
    assert parser.parse_args([]).result_ttl == 600
    assert "(default 600)" in " ".join(parser.format_help().split())
