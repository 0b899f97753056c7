"""Guards from the second mutation sweep of ``mcp_server/runs`` (results, the Redis store, the link, the
handles, the shutdown's deadline) and of the HTTP exchange (issue 26).

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import anyio
import pytest
from mcp.types import CallToolResult

from mcp_server._requests import current_exchange
from mcp_server._texts import NOT_STARTED_TEXT
from mcp_server.http.cancels import Exchanges
from mcp_server.runs.deadline import Deadline
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_drain_order import NoProgress, runner_on
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def test_a_call_let_in_and_queued_for_a_slot_before_sigterm_is_refused_at_once_not_after_the_runs_grace() -> None:
    # Break: Exchange.start() doing nothing -> the drain waits for the admitted call's exchange to end
    # before it refuses queued calls: the client is held for the runs' part of the grace (27 s here),
    # and gets the slot (and is billed) if the running call ends first.
    exchanges = Exchanges()
    answers: dict[str, CallToolResult] = {}
    queued_answered = anyio.Event()
    with Emulator(call_seconds=30) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_concurrency=1) as (runner, runs):

            async def running() -> None:
                answers["running"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

            async def queued() -> None:
                with exchanges.open("client", 2, admitted=True) as exchange:  # the gate let it in
                    current_exchange.set(exchange)
                    answers["queued"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
                queued_answered.set()

            runs.start_soon(running)
            await anyio.wait_all_tasks_blocked()
            runs.start_soon(queued)
            await anyio.wait_all_tasks_blocked()
            assert [run.queued for run in runner.live.values()] == [False, True]
            runs.start_soon(runner.drain, Deadline(30), exchanges.admitted_started)  # SIGTERM
            with anyio.move_on_after(5):
                await queued_answered.wait()
            running_left = "running" not in answers
            runs.cancel_scope.cancel()

    assert "queued" in answers, "the queued call must be refused when the drain begins, not held for the runs' grace"
    assert answers["queued"].is_error and text_of(answers["queued"]) == NOT_STARTED_TEXT
    assert running_left, "refused while the running call still runs"
    assert len(emu.requests) == 1
