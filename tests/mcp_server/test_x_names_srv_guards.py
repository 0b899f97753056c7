"""Behaviours of the MCP server's top-level modules that breaks of kinds mutmut does not make left unguarded
(issue 26, helper x-names-srv: audit 9's m09 and the KINDS=names sweep of mcp_server/*.py). Each test fails with
its break."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from mcp_server.__main__ import main
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_lifecycle import stdio_call_at
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


async def test_each_tool_description_reads_as_a_sentence_about_the_right_tool_from_its_first_word_to_its_last(
    make_server: Callable[..., MCPServer],
) -> None:
    async with Client(make_server(), raise_exceptions=True) as client:
        with anyio.fail_after(10):
            tools = {
                tool.name: " ".join((tool.description or "").split()) for tool in (await client.list_tools()).tools
            }

    assert tools[TOOL_NAME].startswith("Ask Qwen (Alibaba Cloud Model Studio / DashScope) to solve a task")
    assert tools[TOOL_NAME].endswith("say what happened and whether retrying helps.")
    result_tool = tools[RESULT_TOOL_NAME]
    assert result_tool.startswith(f"Get the result of a {TOOL_NAME} run that was still going when that tool answered")
    assert f"(the same as {TOOL_NAME} would have)" in result_tool
    assert result_tool.endswith("Costs nothing: it does not start or bill a new run.")


async def test_the_run_id_is_described_as_coming_from_the_first_tools_answer_in_the_schema_and_in_a_refusal(
    make_server: Callable[..., MCPServer],
) -> None:
    # The result tool's own name contains the first tool's: each text must name the tool that hands out run ids.
    async with Client(make_server(), raise_exceptions=True) as client:
        with anyio.fail_after(10):
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            refused = await client.call_tool(RESULT_TOOL_NAME, {"run_id": ""})

    schema = tools[RESULT_TOOL_NAME].input_schema["properties"]["run_id"]
    assert schema["description"] == f"The run_id from a {TOOL_NAME} answer whose status was 'running'."
    assert refused.is_error
    assert f"the run_id string from a {TOOL_NAME} answer whose status was 'running'" in text_of(refused)


# --- create_server's defaults: those of qwen-ci-mcp's flags (README: --max-wait 50, --result-ttl 600) -------------


async def test_a_server_built_with_no_limits_holds_a_call_50_s_and_keeps_results_600_s_as_the_command_does() -> None:
    server = create_server(api_key=PLANTED_KEY)
    async with Client(server, raise_exceptions=True) as client:
        with anyio.fail_after(10):
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            unknown = await client.call_tool(RESULT_TOOL_NAME, {"run_id": "run_nope"})

    description = " ".join((tools[RESULT_TOOL_NAME].description or "").split())
    assert "Waits up to 50 s" in description and "Results are kept 600 s after a run ends" in description
    assert "results are kept 600 s after a run ends" in text_of(unknown)


async def test_a_server_built_with_no_limits_runs_four_calls_at_once_and_queues_the_fifth() -> None:
    with Emulator() as emu:
        for _ in range(5):  # each fault serves one request
            emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                handles = [await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}) for _ in range(5)]

    assert [(handle.structured_content or {}).get("status") for handle in handles] == ["running"] * 5
    assert all("waiting for a free slot" not in text_of(handle) for handle in handles[:4])
    assert "now: waiting for a free slot" in text_of(handles[4])


async def test_the_texts_about_a_run_give_whole_seconds_without_a_decimal_point() -> None:
    # 1.0 s and the default 600.0 s read "1 s" and "600 s", not "1.0 s" and "600.0 s".
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=1.0)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                handle = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert (handle.structured_content or {}).get("status") == "running"
    assert "it waits up to 1 s and returns" in text_of(handle)
    assert "The result is kept for 600 s after the run ends" in text_of(handle)


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


def test_a_shared_token_and_a_token_file_together_are_refused_naming_each_ones_flag_and_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice:alice-token-0123456789abcdef\n")
    argv = [
        "--transport",
        "streamable-http",
        "--auth-token",
        "shared-token-0123456789",
        "--auth-token-file",
        str(tokens),
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "qwen-ci-mcp: error: give one shared token (--auth-token / QWEN_CI_MCP_AUTH_TOKEN) or a token file "
        "(--auth-token-file / QWEN_CI_MCP_AUTH_TOKEN_FILE), not both; add the shared token to the file as 'name:token'.\n"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_over_stdio_a_second_signal_while_a_call_is_in_flight_exits_at_once_not_after_the_grace(signum: int) -> None:
    # README: "A second signal exits at once". The first one begins the end (a 30 s grace for the stalled call).
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=60))
        with stdio_call_at(emu, "thinking", "--shutdown-grace", "30") as proc:
            proc.send_signal(signum)
            assert proc.stderr is not None
            for line in proc.stderr:  # bounded: the process ends within its grace
                if "letting calls in flight finish" in line:
                    break
            proc.send_signal(signum)
            code = proc.wait(timeout=10)
            said = proc.stderr.read()  # the process has ended: bounded

    # What the server said after the second signal, should it end otherwise (seen once under load: exit 1).
    assert code == {signal.SIGINT: 130, signal.SIGTERM: -signal.SIGTERM}[signum], said[-4000:]
