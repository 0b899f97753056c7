"""The sync client's batch calls when the batch is left (the mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_run_many import leave_at_a_failed_first_outcome


def test_leaving_a_sync_batch_early_stops_the_streams_still_in_flight_at_their_next_chunk() -> None:
    with Emulator(pace=1.0) as emu, CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        tasks = [SEED_QUESTION] * 3 + [f"{SEED_QUESTION} #fault=400"]  # started once three stream
        # Each slow stream (a chunk a second) stops at its next chunk, long before it would have ended.
        leave_at_a_failed_first_outcome(ci.run_many(tasks, concurrency=4), workers_stop_within=5)
