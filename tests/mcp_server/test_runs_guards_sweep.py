"""Guards from the mutation sweep of ``mcp_server/runs`` and the server's small modules (issue 26).

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from mcp_server.runs import MemoryRunStore
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .test_runs import pending_of
from .test_tool import Progress, text_of

pytestmark = pytest.mark.anyio


async def test_a_run_of_another_replica_polled_through_the_shared_store_reports_each_stage_once() -> None:
    # Break: in Runner._await, drop `version = record.version` -> the poll re-reads the same record
    # at once and reports its stage again and again until the run moves on or the poll's wait ends.
    shared = MemoryRunStore()
    with Emulator(code_pause=0.5) as emu:
        settings = {"api_key": PLANTED_KEY, "base_url": emu.base_url, "max_retries": 0, "run_store": shared}
        starter = create_server(**settings, max_wait=0.05)
        # No heartbeat in these waits: every report is a stage the record moved to.
        poller = create_server(**settings, max_wait=0.3, heartbeat_interval=60)
        async with Client(starter, raise_exceptions=True) as a, Client(poller, raise_exceptions=True) as b:
            with anyio.fail_after(20):
                handle = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                polls: list[tuple[CallToolResult, list[str]]] = []
                while not polls or (polls[-1][0].structured_content or {}).get("status") == "running":
                    progress = Progress()
                    answer = await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=progress)
                    polls.append((answer, progress.messages))

    for _, reports in polls:  # each poll starts with the stage the run is in, then each change once
        assert len(reports) == len(set(reports)), f"{len(reports)} reports of {sorted(set(reports))}"
    assert SEED_ANSWER in text_of(polls[-1][0])
    assert len(emu.requests) == 1
