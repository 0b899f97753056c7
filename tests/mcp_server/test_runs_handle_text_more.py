"""The handle's text on a server without a shared run store says nothing of a store being down (the
note is for replicas whose shared store fails; issue 26, KINDS=more)."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_runs import pending_of, slow_server, text_of

pytestmark = pytest.mark.anyio


async def test_a_handle_from_a_server_keeping_runs_in_memory_mentions_no_run_store() -> None:
    with Emulator(code_pause=0.5) as emu:
        async with Client(slow_server(emu, max_wait=0.1)) as client:
            with anyio.fail_after(20):
                first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                handle = pending_of(first)
                while True:  # collected, so the server has nothing left to hold at its end
                    polled = await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id})
                    if (polled.structured_content or {}).get("status") != "running":
                        break
    text = text_of(first)
    assert f'call {RESULT_TOOL_NAME} with run_id "{handle.run_id}"' in text
    assert "run store" not in text and "unavailable" not in text
