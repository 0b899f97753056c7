"""Behaviours no test reached before (lines a coverage run of the whole suite found never executed).

Each test names the behaviour; the break it was checked against is in its comment.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import Context

from mcp_server import TOOL_NAME, create_server
from mcp_server.runs.progress import Progress
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_tool import text_of

pytestmark = pytest.mark.anyio


class _GoneClient:
    """A context whose client can no longer take notifications."""

    def __init__(self) -> None:
        self.tried: list[tuple[float, Any, str | None]] = []

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.tried.append((progress, total, message))
        raise BrokenPipeError("the client went away")


async def test_a_progress_report_the_client_cannot_take_does_not_fail_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Break: the `try/except Exception` around `ctx.report_progress` dropped (the call then fails with
    # the transport's error although its result could still be delivered or collected).
    caplog.set_level(logging.DEBUG, logger="mcp_server")
    ctx = _GoneClient()
    progress = Progress(cast(Context, ctx), interval=5.0)
    await progress.report("thinking")
    await progress.report("running code", "running code (1 run)")
    assert ctx.tried == [(1, None, "thinking"), (2, None, "running code (1 run)")]
    assert progress.stage == "running code"
    assert "progress notification not delivered" in caplog.text


@pytest.mark.parametrize("include_reasoning", [True, False])
async def test_a_call_that_breaks_after_reasoning_alone_shows_the_reasoning_only_when_asked_for_it(
    include_reasoning: bool,
) -> None:
    # Break: agent_text's `include_reasoning and partial.reasoning.strip()` clause dropped (the reasoning that
    # arrived, and was billed, never reaches a model that asked for it) or made unconditional.
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.drop(after_events=3))  # the connection drops while Qwen still thinks
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0)
        async with Client(server) as client:
            answer = await client.call_tool(
                TOOL_NAME, {"question": SEED_QUESTION, "include_reasoning": include_reasoning}
            )
    text = text_of(answer)
    assert answer.is_error and "StreamInterruptedError" in text
    assert ("What arrived before the failure is below" in text) is include_reasoning
    assert ("## Reasoning" in text) is include_reasoning
