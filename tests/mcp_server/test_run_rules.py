"""Rules of a run's life that a broken line would silently lose: each test here fails when its line breaks.

Results are kept ``result_ttl`` and returned as often as asked; giving up on a result wait never
cancels the run; a failed or cancelled call's tokens are counted; heartbeats restart after each
stage report; the text of a result takes at most half the output budget.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server.runs import memory
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_lifecycle import serve
from .test_ops import metric_samples, value
from .test_tool import Progress, cancel_while_thinking, text_of

pytestmark = pytest.mark.anyio


def server_on(emu: Emulator, **options: Any) -> MCPServer:
    return create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, **options)


async def run_to_handle(client: Client) -> str:
    first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
    assert first.structured_content is not None and first.structured_content["status"] == "running", text_of(first)
    return str(first.structured_content["run_id"])


async def collect(client: Client, run_id: str) -> Any:
    while True:
        answer = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
        if answer.is_error or (answer.structured_content or {}).get("status") != "running":
            return answer


async def give_up_waiting(client: Client, run_id: str) -> None:
    """Wait for the run's result until it reports running code, then give up: the wait is cancelled."""
    progress = Progress()
    async with anyio.create_task_group() as tg:

        async def wait_for_result() -> None:
            await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id}, progress_callback=progress)

        tg.start_soon(wait_for_result)
        await progress.seen("running code").wait()
        tg.cancel_scope.cancel()


# --- keeping results -----------------------------------------------------------------------------


async def test_a_finished_result_is_returned_as_often_as_asked_and_kept_for_the_result_ttl_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(code_pause=0.3) as emu:
        async with Client(server_on(emu, max_wait=0.05, result_ttl=100)) as client:
            with anyio.fail_after(20):
                run_id = await run_to_handle(client)
                first = await collect(client, run_id)
                second = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
                real = memory._now
                monkeypatch.setattr(memory, "_now", lambda: real() + 98)
                before = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
                monkeypatch.setattr(memory, "_now", lambda: real() + 101)
                after = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})

    assert SEED_ANSWER in text_of(first) and text_of(second) == text_of(first)  # not deleted once fetched
    assert text_of(before) == text_of(first)  # kept the 100 s given, not some other ttl
    assert after.is_error and "no run" in text_of(after)  # and gone after them


# --- giving up on a wait ------------------------------------------------------------------------------


async def test_giving_up_on_a_result_wait_in_process_leaves_the_run_going() -> None:
    with Emulator(code_pause=1.0) as emu:
        async with Client(server_on(emu, max_wait=0.05)) as client:
            with anyio.fail_after(20):
                run_id = await run_to_handle(client)
                await give_up_waiting(client, run_id)
                answer = await collect(client, run_id)

    assert not answer.is_error and SEED_ANSWER in text_of(answer)  # the run went on to its end
    assert len(emu.requests) == 1


async def test_giving_up_on_a_result_wait_over_http_leaves_the_run_going() -> None:
    with Emulator(code_pause=1.5) as emu, serve(emu, "--max-wait", "0.3") as server:
        with anyio.fail_after(30):
            async with Client(streamable_http_client(server.url)) as client:
                run_id = await run_to_handle(client)
            async with Client(streamable_http_client(server.url)) as leaving:
                await give_up_waiting(leaving, run_id)  # the client closes its stream
            async with Client(streamable_http_client(server.url)) as client:
                answer = await collect(client, run_id)

    assert not answer.is_error and SEED_ANSWER in text_of(answer)
    assert len(emu.requests) == 1


# --- what a call costs ------------------------------------------------------------------------------


def tokens_counted(server: MCPServer) -> float:
    samples = metric_samples(server_runtime(server).ops.metrics.exposition().decode())
    return sum(value(samples, "qwen_ci_tokens_total", client="local", kind=kind) for kind in ("input", "output"))


async def test_the_tokens_of_a_failed_call_are_counted() -> None:
    with Emulator() as emu:
        emu.add_fault(Fault.drop(after_events=6))  # the stream breaks after some billed events
        server = server_on(emu)
        async with Client(server) as client:
            with anyio.fail_after(20):
                failed = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert failed.is_error
    assert failed.structured_content is not None and failed.structured_content["usage"]["output_tokens"] > 0
    assert tokens_counted(server) > 0


async def test_the_tokens_of_a_cancelled_call_are_counted() -> None:
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=6, seconds=30))
        server = server_on(emu)
        async with Client(server) as client:
            with anyio.fail_after(20):
                await cancel_while_thinking(client, emu)

    assert len(emu.requests) == 1
    outcome = value(metric_samples(server_runtime(server).ops.metrics.exposition().decode()), "qwen_ci_calls_total",
                    client="local", outcome="cancelled", error="")  # fmt: skip
    assert outcome == 1
    assert tokens_counted(server) > 0


# --- progress --------------------------------------------------------------------------------------------


async def test_heartbeats_restart_after_each_report_so_they_come_once_per_silent_interval() -> None:
    with Emulator(code_pause=1.0) as emu:
        async with Client(server_on(emu, heartbeat_interval=0.3, max_wait=0)) as client:
            progress = Progress()
            with anyio.fail_after(20):
                result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress)

    beats = [m for m in progress.messages if "still working" in m]
    assert not result.is_error
    # About 1.0 s of silence in the sandbox, one heartbeat per 0.3 s of it (a timer not restarted by
    # the reports would fire at once, over and over).
    assert 1 <= len(beats) <= 5, progress.messages


# --- the output budget ---------------------------------------------------------------------------------------


async def test_the_text_of_a_result_takes_at_most_half_the_output_budget() -> None:
    with Emulator() as emu:
        emu.add_fault(Fault.huge_line(size=50_000))  # one reasoning delta of 50,000 characters
        async with Client(server_on(emu, max_output_chars=10_000)) as client:
            with anyio.fail_after(20):
                result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION, "include_reasoning": True})

    text = text_of(result)
    note = text[text.index("\n[structuredContent was cut") :] if "[structuredContent was cut" in text else ""
    assert 4_000 < len(text) - len(note) <= 5_000
