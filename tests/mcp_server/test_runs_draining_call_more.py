"""The drain, driven directly (issue 26, KINDS=more): a call that comes in process while it goes on is
refused (only a call the HTTP gate let in is served then); a run cancelled when the runs' grace ends is
delivered before it returns; with no handle out it logs no wait for handles."""

from __future__ import annotations

import logging

import anyio
import pytest

from mcp_server import _texts as T
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_drain_handles import handle_of_a_run, start_drain
from .test_drain_order import NoProgress, runner_on
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def test_a_call_without_an_admitting_gate_during_the_drain_is_refused_and_starts_no_run() -> None:
    with Emulator(code_pause=0.5) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=0.01) as (runner, runs):
            _, ended = await handle_of_a_run(runner, runs)  # a run in flight holds the drain open
            drained = start_drain(runner, runs, 30, polls=False)
            await anyio.wait_all_tasks_blocked()
            assert not runner.ready and not drained.is_set()
            late = await runner.call(SEED_QUESTION, False, NoProgress(), runs)
            await ended.wait()
            await drained.wait()

    assert late.is_error and text_of(late) == T.SHUTTING_DOWN_TEXT
    assert len(emu.requests) == 1


async def test_a_run_cancelled_when_the_runs_grace_ends_is_delivered_before_the_drain_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Emulator(code_pause=10) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=0.01) as (runner, runs):
            _, ended = await handle_of_a_run(runner, runs)
            await runner.drain(0.4)  # 0.3 s for the run, then it is cancelled; 0.1 s to deliver its record
            delivered = ended.is_set()
            left = dict(runner.live)

    assert delivered and left == {}
    assert "not delivered" not in caplog.text


async def test_a_drain_with_no_handle_out_logs_no_wait_for_handles(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu) as (runner, _):
            await runner.drain(5, polls=True)
    assert "answered with a handle" not in caplog.text
