"""The sync client's batch calls when the batch is left (the mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

import threading

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_QUESTION, Emulator


def test_leaving_a_sync_batch_early_stops_the_streams_still_in_flight_at_their_next_chunk() -> None:
    with Emulator(pace=1.0) as emu, CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        tasks = [SEED_QUESTION] * 3 + [f"{SEED_QUESTION} #fault=400"]  # started once three stream
        outcomes = ci.run_many(tasks, concurrency=4)
        first = next(outcomes)
        outcomes.close()
        assert first.status == "failed"
        # Each slow stream (a chunk a second) stops at its next chunk, long before it would have ended.
        for thread in threading.enumerate():
            if thread.name.startswith("qwen-ci-batch"):
                thread.join(timeout=5)
                assert not thread.is_alive()
