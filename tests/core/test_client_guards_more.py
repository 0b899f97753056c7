"""The sync client's batch calls when the batch is left (the mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_QUESTION, Emulator


def test_leaving_a_sync_batch_early_closes_the_streams_still_in_flight() -> None:
    with Emulator(pace=0.5) as emu, CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        tasks = [SEED_QUESTION] * 3 + [f"{SEED_QUESTION} #fault=400"]  # started once three stream
        outcomes = ci.run_many(tasks, concurrency=4)
        first = next(outcomes)
        outcomes.close()
        assert first.status == "failed" and len(emu.requests) == 4
        # Each slow stream stops at its next chunk (0.5 s apart), long before it would have ended;
        # only the refused call's idle keep-alive stays.
        assert emu.wait_for_connections(1, timeout=5)
