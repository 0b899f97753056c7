"""The order of a drain's first steps, driven directly (no process, no sleeps).

Over HTTP the gate decides whether a new call is let in before its handler runs: a call it let in
just before SIGTERM reaches the runner after the drain began. Such a call is served, never refused
inside the 200 the gate already committed to (nginx cannot retry that), and the drain waits for its
handler to register the run before it looks at the runs; a handler that ends without a run does
not hold the drain. The grace is one deadline: runs get it less a reserve for what follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest
from mcp.types import CallToolResult

from mcp_server import create_server, server_runtime
from mcp_server._requests import current_exchange
from mcp_server.http.cancels import Exchanges
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.runner import Runner
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .test_tool import text_of

pytestmark = pytest.mark.anyio


class NoProgress:
    """The handler's context, as far as the runner uses it: progress reports go nowhere."""

    async def report_progress(self, *_: Any) -> None:
        return None


@asynccontextmanager
async def runner_on(emu: Emulator, **options: Any) -> AsyncIterator[tuple[Runner, anyio.abc.TaskGroup]]:
    """A server's runner and the task group its runs live in (what the server's lifespan gives);
    *options* for ``create_server`` (``max_wait`` 0 unless given)."""
    options = {"max_wait": 0, **options}
    runner = server_runtime(create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, **options))
    assert isinstance(runner, Runner)
    try:
        async with anyio.create_task_group() as runs:
            yield runner, runs
    finally:
        await runner.aclose()


async def calls_in_turn(
    runner: Runner, runs: anyio.abc.TaskGroup, include_reasoning: bool, *names: str
) -> dict[str, CallToolResult]:
    """Calls started in *runs* one after the other, each once the ones before it block (with one slot,
    the first runs and the others wait for it); each one's answer lands in the dict under its name."""
    answers: dict[str, CallToolResult] = {}

    async def ask(name: str) -> None:
        answers[name] = await runner.call(SEED_QUESTION, include_reasoning, NoProgress(), runs)  # type: ignore[arg-type]

    for name in names:
        runs.start_soon(ask, name)
        await anyio.wait_all_tasks_blocked()
    return answers


def start_drain(runner: Runner, runs: anyio.abc.TaskGroup, exchanges: Exchanges) -> anyio.Event:
    """Begin the drain (what SIGTERM does) with a 30 s grace: an event set once it has returned."""
    drained = anyio.Event()

    async def drain() -> None:
        await runner.drain(30, admitted=exchanges.admitted_started)
        drained.set()

    runs.start_soon(drain)
    return drained


async def test_a_call_the_gate_let_in_before_sigterm_is_served_when_its_handler_runs_after_the_drain_began() -> None:
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            with exchanges.open("client", 1, admitted=True) as exchange:  # the gate let the call in...
                drained = start_drain(runner, runs, exchanges)  # ...then SIGTERM...
                await anyio.wait_all_tasks_blocked()
                refusing, waiting = not runner.ready, not drained.is_set()
                token = current_exchange.set(exchange)  # ...then its handler runs
                try:
                    result: CallToolResult = await runner.call(SEED_QUESTION, False, NoProgress(), runs)
                finally:
                    current_exchange.reset(token)
            await drained.wait()

    assert refusing, "the drain had begun: new calls are refused"
    assert waiting, "the drain must wait for the call the gate let in, not end with no run registered"
    assert not result.is_error and SEED_ANSWER in text_of(result)
    assert len(emu.requests) == 1


async def test_a_call_the_gate_let_in_that_ends_without_a_run_does_not_hold_the_drain() -> None:
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):
            with exchanges.open("client", 1, admitted=True):  # its handler fails before starting a run
                drained = start_drain(runner, runs, exchanges)
                await anyio.wait_all_tasks_blocked()
                waiting = not drained.is_set()
            await drained.wait()  # once its exchange ends, not after the 30 s grace

    assert waiting
    assert len(emu.requests) == 0


@pytest.mark.parametrize(("grace", "runs_grace"), [(30, 27), (8, 6), (2, 1.5), (0, 0)])
async def test_runs_get_the_grace_less_a_quarter_at_most_3_s_and_the_rest_ends_with_the_grace(
    grace: float, runs_grace: float
) -> None:
    deadline = Deadline(grace)

    assert deadline.runs_grace == runs_grace
    assert deadline.end - deadline.runs_end == pytest.approx(grace - runs_grace)  # the reserve, inside the grace
    assert 0 <= deadline.runs_left() <= deadline.left() <= grace


async def test_a_run_cancelled_when_the_runs_grace_is_over_is_told_how_long_runs_were_let_finish() -> None:
    answers: list[CallToolResult] = []
    with Emulator(call_seconds=30) as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, runs):

            async def call() -> None:
                answers.append(await runner.call(SEED_QUESTION, False, NoProgress(), runs))

            runs.start_soon(call)
            await anyio.wait_all_tasks_blocked()
            await runner.drain(2)  # runs get 1.5 s of the 2 s grace

    assert len(answers) == 1 and answers[0].is_error
    assert "the server is shutting down (it let running calls finish for 1.5 s)" in text_of(answers[0])


async def test_the_drain_waits_for_two_admitted_calls_and_returns_once_both_have_settled() -> None:
    exchanges = Exchanges()
    returned = anyio.Event()

    async def drain_wait() -> None:
        await exchanges.admitted_started()
        returned.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            with exchanges.open("client", 1, admitted=True):
                tg.start_soon(drain_wait)
                await anyio.wait_all_tasks_blocked()
                with exchanges.open("client", 2, admitted=True):  # a second call let in while the drain waits
                    await anyio.wait_all_tasks_blocked()
                assert not returned.is_set(), "the first call has not settled yet"
            await returned.wait()
