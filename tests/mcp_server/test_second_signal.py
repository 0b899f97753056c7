"""A second SIGTERM or SIGINT (Ctrl-C twice) while a call is in flight over streamable HTTP: the
server answers the call with the reason and exits at once, cleanly: one warning line, no traceback,
exit code 0."""

from __future__ import annotations

import signal

import anyio
import pytest
from mcp.types import CallToolResult

from mcp_server import TOOL_NAME
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_lifecycle import client, exit_code, serve, stalling_emu, step, wait_for_log
from .test_tool import Progress, text_of

pytestmark = pytest.mark.anyio

__all__ = ["stalling_emu"]  # the fixture, used by name


@pytest.mark.parametrize(("mode", "signum"), [("auto", signal.SIGTERM), ("legacy", signal.SIGINT)])
async def test_a_second_signal_with_a_call_in_flight_exits_at_once_with_one_warning_and_no_traceback(
    stalling_emu: Emulator, mode: str, signum: int
) -> None:
    with serve(stalling_emu, "--shutdown-grace", "30") as server:
        async with client(server.url, mode) as c:
            progress = Progress()
            got: list[CallToolResult] = []

            async def run() -> None:
                got.append(await c.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress))

            # The upstream stream stalls for 60 s: only the second signal can end the call this soon.
            with step(server, "the call in flight ending after the second signal", 30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(run)
                    await progress.seen("thinking").wait()
                    server.signal(signum)
                    await wait_for_log(server, "shutting down", 10)
                    server.signal(signum)
                    await wait_for_log(server, "second signal", 10)
                    server.signal(signum)  # a third, while it exits, changes nothing
        code = await exit_code(server, 15)

    assert code == 0
    (result,) = got
    assert result.is_error and "Cancelled: the server was told a second time to stop." in text_of(result)
    log = server.output()
    assert [line for line in server.log if "second signal" in line] == [
        next(
            line
            for line in server.log
            if "WARNING mcp_server: qwen-ci-mcp: second signal: exiting without waiting" in line
        )
    ]
    assert "cancelled: the server was told a second time to stop" in log, log
    assert "Traceback" not in log and " ERROR " not in log, log
