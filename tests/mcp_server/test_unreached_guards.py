"""Behaviours no test reached before (lines a coverage run of the whole suite found never executed).

Each test names the behaviour; the break it was checked against is in its comment.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest
from mcp.server.mcpserver import Context

from mcp_server.runs.progress import Progress

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
