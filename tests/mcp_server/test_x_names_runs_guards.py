"""Behaviours of the MCP server's runs and HTTP layer that `make mutate ... KINDS=names` breaks (a constant, a
class default, a name read swapped) left unguarded (issue 26, helper x-names-runs). Each test fails with its break."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import TOOL_NAME
from mcp_server.runs import MemoryRunStore, RunRecord
from qwen_ci_tool.testing import SEED_QUESTION

from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def test_the_servers_own_run_store_keeps_a_thousand_runs_and_the_next_drops_the_oldest_finished() -> None:
    # README: a result is kept --result-ttl seconds after its run ends, "at most 1000 runs" (the runner's own
    # store is a MemoryRunStore with its default bound).
    store = MemoryRunStore(clock=lambda: 2.0)
    for n in range(1000):
        await store.put(
            RunRecord(f"run_{n}", started_at=0.0).advanced(state="finished", result={"content": []}, finished_at=1.0)
        )
    assert len(store) == 1000 and await store.get("run_0") is not None
    await store.put(RunRecord("run_next", started_at=0.0))
    assert len(store) == 1000 and await store.get("run_0") is None and await store.get("run_1") is not None


async def test_a_call_answered_before_its_run_has_begun_says_the_run_is_starting(
    make_server: Callable[..., MCPServer],
) -> None:
    # A wait shorter than the run's first step: the handle is answered from the run's first record.
    async with Client(make_server(max_wait=1e-9)) as client:
        with anyio.fail_after(30):
            answer = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
            assert isinstance(answer.structured_content, dict)
            assert answer.structured_content["status"] == "running"
            assert answer.structured_content["stage"] == "starting"
            assert "now: starting)" in text_of(answer)
