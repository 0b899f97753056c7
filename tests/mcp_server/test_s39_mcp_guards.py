"""Paths of the MCP server no test took in process (a coverage run over tests/mcp_server, issue 26)."""

from __future__ import annotations

import anyio
import pytest

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from mcp_server.runs import MemoryRunStore, RunRecord
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from .test_runs import pending_of, replicas
from .test_tool import Progress


async def test_a_poll_for_another_replicas_run_still_going_at_max_wait_answers_its_handle_again_with_its_stage() -> (
    None
):
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with replicas(emu, max_wait=0.3) as (a, b, _):
            with anyio.fail_after(20):
                handle = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                progress = Progress()
                again = await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}, progress_callback=progress)

    pending = pending_of(again)
    assert pending.run_id == handle.run_id and pending.status == "running"
    assert pending.stage == "thinking" and pending.elapsed_seconds >= 0.3
    # Where the run is, as the shared store has it (it may lag the owner's own answer by one write).
    assert progress.messages and progress.messages[-1] == "thinking"
    assert len(emu.requests) == 1


async def test_a_store_over_its_bound_with_only_running_runs_drops_none_of_them() -> None:
    store = MemoryRunStore(max_runs=2)
    for n in range(4):
        await store.put(RunRecord(f"run_{n}", started_at=0.0))
    assert len(store) == 4
    assert [await store.get(f"run_{n}") is not None for n in range(4)] == [True] * 4


def test_the_run_state_of_a_server_not_built_by_create_server_is_refused_naming_the_fix() -> None:
    # Audit 15's a28 (`_RUNTIMES.get(server)`): a foreign server got None as its run state, and failed later
    # with an AttributeError far from the mistake.
    from mcp.server.mcpserver import MCPServer

    from mcp_server import create_server, server_runtime

    with pytest.raises(
        ValueError, match=r"^server_runtime\(\) takes a server built by mcp_server\.create_server\(\); "
    ):
        server_runtime(MCPServer("mine"))
    assert server_runtime(create_server(api_key="sk-test")) is not None
