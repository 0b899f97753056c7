"""Guards from the mutation sweep of ``mcp_server/runs/runner.py`` and ``progress.py`` (issue 26, round 2).

Each test names the behaviour a one-line break of the runner would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server._requests import current_exchange
from mcp_server._texts import SHUTTING_DOWN_TEXT
from mcp_server.http.cancels import Exchanges
from mcp_server.runs import MemoryRunStore
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.runner import Runner
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_drain_order import NoProgress, runner_on
from .test_runs import pending_of
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def test_a_call_that_waited_for_a_slot_and_got_one_before_the_drain_is_let_finish_not_refused() -> None:
    # Break: Runner.drain refusing every run that was ever queued (`run.queued` alone, not `and not
    # run.started`) -> the second call, already sent upstream (billed), is cut and told it never started.
    answers: dict[str, CallToolResult] = {}
    with Emulator(code_pause=0.3) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_concurrency=1) as (runner, runs):

            async def ask(name: str) -> None:
                answers[name] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

            runs.start_soon(ask, "first")
            await anyio.wait_all_tasks_blocked()
            runs.start_soon(ask, "second")
            await anyio.wait_all_tasks_blocked()
            (second,) = [run for run in runner.live.values() if run.queued]
            while not second.started:  # the first call ended and gave the second its slot
                await runner.local.wait(second.record.run_id, second.record.version, 5)
            await runner.drain(Deadline(10))

    assert not answers["first"].is_error
    assert not answers["second"].is_error, text_of(answers["second"])
    assert SEED_ANSWER in text_of(answers["second"])
    assert len(emu.requests) == 2


async def test_a_call_the_gate_let_in_whose_handler_runs_after_the_drain_ended_is_refused_unsent() -> None:
    # Break: Runner.call taking an admitted exchange as served whatever the drain did (dropping `and not
    # self._drained.is_set()`) -> a run starts in a server that has drained: nobody waits for it.
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            await runner.drain(Deadline(1))
            with exchanges.open("client", 1, admitted=True) as exchange:
                token = current_exchange.set(exchange)
                try:
                    result = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
                finally:
                    current_exchange.reset(token)

    assert result.is_error and text_of(result) == SHUTTING_DOWN_TEXT
    assert len(emu.requests) == 0


async def test_a_poll_for_another_replicas_run_ends_with_the_handle_as_soon_as_this_server_has_drained() -> None:
    # Break: Runner._await not ending store waits on the drain (no `_end_on_drained` task) -> the poll
    # holds the draining server for its whole max_wait (20 s here) though this server can only exit.
    shared = MemoryRunStore()
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        settings = {"api_key": PLANTED_KEY, "base_url": emu.base_url, "max_retries": 0, "run_store": shared}
        starter = create_server(**settings, max_wait=0.05)
        poller = create_server(**settings, max_wait=20)
        runner = server_runtime(poller)
        assert isinstance(runner, Runner)
        async with Client(starter, raise_exceptions=True) as a, Client(poller, raise_exceptions=True) as b:
            with anyio.fail_after(10):
                handle = pending_of(await a.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                answers: list[CallToolResult] = []
                async with anyio.create_task_group() as tg:

                    async def poll() -> None:
                        answers.append(await b.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id}))

                    tg.start_soon(poll)
                    await anyio.wait_all_tasks_blocked()
                    await runner.drain(Deadline(1))

    assert pending_of(answers[0]).run_id == handle.run_id
