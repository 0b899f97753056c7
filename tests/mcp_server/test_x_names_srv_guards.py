"""Behaviours of the MCP server's top-level modules that breaks of kinds mutmut does not make left unguarded
(issue 26, helper x-names-srv: audit 9's m09 and the KINDS=names sweep of mcp_server/*.py). Each test fails with
its break."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from mcp_server._requests import current_exchange
from mcp_server.http.cancels import Exchanges
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from .test_drain_order import NoProgress, runner_on
from .test_tool import text_of

pytestmark = pytest.mark.anyio

#: The SDK's logger for tool calls (mcp.server.mcpserver.server), which logs each refused call once.
SDK_LOGGER = "mcp.server.mcpserver.server"


@pytest.mark.parametrize(
    ("tool", "arguments", "fields"),
    [
        (TOOL_NAME, {"question": SEED_QUESTION, "include_reasoning": "maybe"}, ["include_reasoning"]),
        (TOOL_NAME, {"include_reasoning": 3}, ["include_reasoning", "question"]),
        (RESULT_TOOL_NAME, {"run_id": ""}, ["run_id"]),
    ],
    ids=["one-argument", "two-arguments", "result-tool"],
)
async def test_a_call_with_invalid_arguments_is_logged_as_rejected_naming_only_the_arguments(
    make_server: Callable[..., MCPServer],
    caplog: pytest.LogCaptureFixture,
    tool: str,
    arguments: dict[str, Any],
    fields: list[str],
) -> None:
    # The server's own error text stays chained to the SDK's ValidationError: the SDK then logs one short line naming
    # the rejected arguments, not the whole error text the agent gets (a `from None` loses that).
    caplog.set_level(logging.INFO, logger=SDK_LOGGER)
    async with Client(make_server(), raise_exceptions=True) as client:
        with anyio.fail_after(20):
            result = await client.call_tool(tool, arguments)

    assert result.is_error
    lines = [record.getMessage() for record in caplog.records if record.name == SDK_LOGGER]
    assert lines == [f"Tool {tool!r} rejected arguments: {fields!r}"]


async def test_a_call_whose_exchange_is_aborted_twice_is_cancelled_for_the_first_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A legacy client that sends notifications/cancelled and then drops the connection: the call ends, and is logged,
    # as cancelled by the client's notification, not by the disconnect that follows it.
    caplog.set_level(logging.INFO, logger="mcp_server")
    exchanges = Exchanges()
    answers: list[CallToolResult] = []
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with runner_on(emu) as (runner, runs):
            with exchanges.open("client", 1) as exchange:

                async def ask() -> None:
                    current_exchange.set(exchange)
                    answers.append(await runner.call(SEED_QUESTION, False, NoProgress(), runs))  # type: ignore[arg-type]

                async with anyio.create_task_group() as tg:
                    tg.start_soon(ask)
                    await anyio.wait_all_tasks_blocked()
                    (run,) = runner.live.values()
                    while run.record.stage != "thinking":
                        await runner.local.wait(run.record.run_id, run.record.version, 5)
                    exchange.abort("the client sent notifications/cancelled")
                    exchange.abort("the client disconnected")
            await run.finished.wait()

    assert answers[0].is_error and text_of(answers[0]) == "Cancelled: the client sent notifications/cancelled."
    assert f"{TOOL_NAME} cancelled: the client sent notifications/cancelled" in caplog.text
    assert "disconnected" not in caplog.text


# --- qwen-ci-mcp ----------------------------------------------------------------------------------


def test_importing_the_server_without_the_mcp_extra_chains_the_import_error_that_names_the_missing_module() -> None:
    # The one-line message says what to install; the chained cause keeps where the import failed (for a traceback).
    code = (
        "import sys; sys.modules['mcp'] = None\n"
        "try:\n    from mcp_server import create_server\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc.name, type(exc.__cause__).__name__, exc.__cause__.name, exc.__suppress_context__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    name, cause, cause_name, suppressed = proc.stdout.split()
    assert name.partition(".")[0] == "mcp"
    assert (cause, cause_name, suppressed) == ("ModuleNotFoundError", name, "True")
