"""A rolling restart behind the real nginx (``deploy/nginx.conf``): two replicas on one Redis, one of
them SIGTERMed while 20 calls come in. No call is lost and nothing is billed twice.

Calls already running on the draining replica finish there and are delivered; calls that reach it
afterwards are answered 503 before anything starts, and nginx sends them to the other replica.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest

from qwen_ci_tool.testing import Emulator

from .test_balancer import TOKENS, Outcome, answered, call_through, start_team

pytestmark = pytest.mark.anyio


async def test_a_rolling_restart_behind_nginx_loses_no_call_and_bills_none_twice(
    nginx_binary: str, deploy_dir: Path, tmp_path: Path, redis_url: str
) -> None:
    with ExitStack() as stack:
        # One emulator per replica: its request log says which replica billed what.
        emulators = [stack.enter_context(Emulator(code_pause=1.5)) for _ in range(2)]
        options = ("--run-store", redis_url, "--shutdown-grace", "20")
        team = start_team(stack, nginx_binary, deploy_dir, tmp_path, emulators, options)
        draining, staying = team.replicas
        first = [Outcome() for _ in range(10)]
        second = [Outcome() for _ in range(10)]
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                # Each wave: half from a stateless client, half from a handshake-era one (pinned by session).
                tg.start_soon(call_through, team.nginx.url, TOKENS["alice"], first[:5], "auto")
                tg.start_soon(call_through, team.nginx.url, TOKENS["bob"], first[5:], "legacy")
                # Once the replica to restart runs one of them (each runs 1.5 s in the sandbox):
                assert await anyio.to_thread.run_sync(emulators[0].wait_for_requests, 1, 30.0)
                draining.terminate()
                await anyio.to_thread.run_sync(draining.wait_for, "shutting down")
                tg.start_soon(call_through, team.nginx.url, TOKENS["alice"], second[:5], "auto")
                tg.start_soon(call_through, team.nginx.url, TOKENS["bob"], second[5:], "legacy")
            code = await anyio.to_thread.run_sync(draining.wait)
        still_serving = staying.proc.poll() is None

    outcomes = first + second
    lost = [(o.error, o.result) for o in outcomes if not answered(o)]
    assert not lost, lost
    assert len(emulators[0].requests) >= 1
    assert len(emulators[0].requests) + len(emulators[1].requests) == 20, "each call billed exactly once"
    assert code == 0
    assert still_serving
