"""Guards for the last survivors of the mutation sweeps of ``mcp_server/runs/`` (issue 26): the runner's
late mutmut mutants and the KINDS=more breaks left open in ``runner.py`` and ``results.py``.

Each test names the behaviour a one-line break would lose; the break it was checked against is in its comment.
"""

from __future__ import annotations

import json
import logging
import time

import anyio
import pytest
import redis.asyncio as aioredis
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server._fit import MAX_RESULT_BYTES
from mcp_server._requests import current_exchange
from mcp_server._texts import store_unavailable_text, unknown_run_text
from mcp_server.http.cancels import Exchanges
from mcp_server.runs import MemoryRunStore, RunRecord, StoreUnavailable, new_run_id
from mcp_server.runs.redis_store import RedisRunStore
from mcp_server.runs.results import MIN_OUTPUT_CHARS, Results
from mcp_server.runs.runner import Runner
from qwen_ci_tool import CodeInterpreterResult
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_drain_order import NoProgress, runner_on
from .test_runs import pending_of
from .test_runs_guards_sweep import ReadCountingStore
from .test_tool import text_of

pytestmark = pytest.mark.anyio

#: What pending_text adds when the shared store is down.
STORE_DOWN_NOTE = "the run store this server shares with its replicas is unavailable right now"


async def test_an_answer_that_fits_the_output_budget_says_nothing_about_cut_structured_content() -> None:
    # Break: Results._package appending its cut note whatever was cut (`if structured["truncated"]` forced
    # true) -> every answer ends with "[structuredContent was cut to fit ... --max-output-chars (40,000): ]".
    with Emulator() as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                answer = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert not answer.is_error and SEED_ANSWER in text_of(answer)
    assert answer.structured_content is not None and answer.structured_content["truncated"] == []
    assert "structuredContent was cut" not in text_of(answer)
    assert "--max-output-chars" not in text_of(answer)


async def test_a_call_over_http_that_its_client_gives_up_on_without_an_abort_logs_that_the_client_cancelled_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Break: Runner.call taking the reason of any HTTP exchange as the cancel's (dropping `and exchange.reason`)
    # -> an exchange the gate did not abort (the SDK cancelled the handler) gives the run no reason: it is
    # logged, and its result says, "the server stopped".
    caplog.set_level(logging.INFO, logger="mcp_server")
    exchanges = Exchanges()
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        async with runner_on(emu) as (runner, runs):
            with exchanges.open("client", 1) as exchange:

                async def ask() -> None:
                    current_exchange.set(exchange)
                    await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

                async with anyio.create_task_group() as tg:
                    tg.start_soon(ask)
                    await anyio.wait_all_tasks_blocked()
                    (run,) = runner.live.values()
                    while run.record.stage != "thinking":
                        await runner.local.wait(run.record.run_id, run.record.version, 5)
                    tg.cancel_scope.cancel()  # the handler is cancelled; the exchange itself is not aborted
            await run.finished.wait()

    assert exchange.reason is None
    assert f"{TOOL_NAME} cancelled: the client cancelled the call" in caplog.text
    assert "the server stopped" not in caplog.text


class _CancelsFail(MemoryRunStore):
    """A shared store that keeps records but cannot send cancels to the other replicas."""

    async def publish_cancel(self, principal: str, request_id: str) -> None:
        raise StoreUnavailable("planted publish failure")


async def test_a_handle_says_the_shared_store_is_down_even_for_a_run_whose_record_already_reached_it() -> None:
    # Break: Runner._pending's note keyed on the run's own record only (dropping `self.link.down or`) -> once
    # the store fails after the run's first write, the handle no longer warns that only this server can answer.
    store = _CancelsFail()
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(
            api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05, run_store=store
        )
        runner = server_runtime(server)
        assert isinstance(runner, Runner)
        async with Client(server, raise_exceptions=True) as client:
            with anyio.fail_after(20):
                handle = pending_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                assert await store.wait(handle.run_id, -1, 10) is not None  # the run's record is in the store
                await anyio.wait_all_tasks_blocked()
                before = await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id})
                await runner.forward_cancel("another-client", "7")  # the store fails now
                after = await client.call_tool(RESULT_TOOL_NAME, {"run_id": handle.run_id})

    assert pending_of(before).run_id == pending_of(after).run_id == handle.run_id
    assert STORE_DOWN_NOTE not in text_of(before)
    assert STORE_DOWN_NOTE in text_of(after)


class _Recorder:
    """The handler's context, as far as the runner uses it: the messages of its progress reports."""

    def __init__(self) -> None:
        self.messages: list[str | None] = []

    async def report_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.messages.append(message)


async def test_a_call_answered_with_a_handle_gets_no_progress_reports_once_it_has_returned() -> None:
    # Break: Runner._await not taking the call's reporter off its run's listeners when the wait ends
    # (`discard(None)`) -> the stages the run reaches after the handle are reported to a request already answered.
    with Emulator(code_pause=0.3) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=0.05) as (runner, runs):
            call = _Recorder()
            handle = pending_of(await runner.call(SEED_QUESTION, False, call, runs))  # type: ignore[arg-type]
            reported = list(call.messages)
            runner.max_wait = 20
            poll = _Recorder()
            answer = await runner.result(handle.run_id, poll)  # type: ignore[arg-type]

    assert not answer.is_error and SEED_ANSWER in text_of(answer)
    assert any(m and "running code" in m for m in poll.messages), poll.messages  # the run went on after the handle
    assert call.messages == reported


class _StoreWaitFails(MemoryRunStore):
    """A shared store holding another replica's run, whose wait for a newer record fails (raises), or finds
    the record gone (expired meanwhile)."""

    def __init__(self, *, raises: bool) -> None:
        super().__init__()
        self.raises = raises

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        if self.raises:
            raise StoreUnavailable("planted wait failure")
        return None


@pytest.mark.parametrize("raises", [True, False], ids=["store-fails", "record-gone"])
async def test_a_poll_of_another_replicas_run_whose_store_fails_or_loses_it_during_the_wait_says_so(
    raises: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Breaks: Runner._await's store loop on a failed wait (the failure not kept, its operation label or
    # exception lost in the log, the answer's run id or is_error), and on a record gone (`record = None`
    # or `break` replaced: a crash instead of "no such run").
    caplog.set_level(logging.INFO, logger="mcp_server")
    store = _StoreWaitFails(raises=raises)
    run_id = new_run_id()
    await store.put(RunRecord(run_id, started_at=time.time(), owner="local"))  # another replica's run
    server = create_server(api_key=PLANTED_KEY, run_store=store, max_wait=5, result_ttl=120)
    runner = server_runtime(server)
    assert isinstance(runner, Runner)
    async with Client(server, raise_exceptions=True) as client:
        with anyio.fail_after(10):
            answer = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
    metrics = runner.ops.metrics.exposition().decode()

    assert answer.is_error
    if raises:
        assert text_of(answer) == store_unavailable_text(run_id)
        assert "run store unavailable (read): planted wait failure; runs go on in this process" in caplog.text
        assert 'qwen_ci_run_store_errors_total{operation="read"} 1.0' in metrics
    else:
        assert text_of(answer) == unknown_run_text(run_id, 120)
        assert "qwen_ci_run_store_errors_total{" not in metrics


def test_a_result_whose_record_skeleton_alone_exceeds_one_event_is_still_answered_at_the_smallest_budget() -> None:
    # Break: Results._package retrying until the result fits one SSE event whatever its budget (dropping
    # `or budget <= MIN_OUTPUT_CHARS`) -> a record whose skeleton (here 20,000 empty code runs) can never fit:
    # the loop spins at the smallest budget for ever (pytest-timeout ends it).
    runs = [{"index": i, "code": "", "output": ""} for i in range(20_000)]
    result = CodeInterpreterResult.from_dict(
        {"answer": "x", "status": "completed", "protocol": "responses", "code_runs": runs}
    )
    packed = Results(40_000, None).success(result, include_reasoning=False)

    assert len(packed.model_dump_json(by_alias=True, exclude_none=True).encode()) > MAX_RESULT_BYTES
    assert not packed.is_error and len(text_of(packed)) < MIN_OUTPUT_CHARS
    assert packed.structured_content is not None and len(packed.structured_content["code_runs"]) == 20_000


class _FinalWriteHeld(MemoryRunStore):
    """A shared store whose write of a finished record waits for ``release``: the run stays live here meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()

    async def put(self, record: RunRecord) -> None:
        if record.state == "finished":
            await self.release.wait()
        await super().put(record)


async def test_a_poll_of_a_finished_run_still_writing_its_final_record_gets_the_result_with_no_progress_report() -> (
    None
):
    # Break: Runner._await reporting where a run of this process is to every poll (dropping `and
    # local.record.state != "finished"`) -> a poll of a run that has finished sends a "done" progress report.
    store = _FinalWriteHeld()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu, max_wait=20, run_store=store) as (runner, runs):
            answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            (run,) = runner.live.values()  # finished, its final record not written to the store yet
            poll = _Recorder()
            again = await runner.result(run.record.run_id, poll)  # type: ignore[arg-type]
            store.release.set()

    assert run.record.state == "finished"
    assert not answer.is_error and again == answer
    assert poll.messages == []


def _unreadable(kind: str, run_id: str) -> str:
    """A value under the run's key that is not JSON, lacks the record, or has a write time that is no number."""
    record = RunRecord(run_id, started_at=0.0).to_json()
    return {
        "not-json": "{not json",
        "no-record": json.dumps({"written_at": 1.0}),
        "written-at-not-a-number": json.dumps({"record": record, "written_at": "soon"}),
    }[kind]


@pytest.mark.parametrize("kind", ["not-json", "no-record", "written-at-not-a-number"])
async def test_a_record_in_redis_that_is_not_json_lacks_its_record_or_its_write_time_is_store_unavailable(
    kind: str, redis_url: str
) -> None:
    # Breaks: RedisRunStore.get not catching ValueError (JSON that does not parse, a write time that is no
    # number) or KeyError (no "record"): the raw error escapes instead of "unreadable record".
    run_id = new_run_id()
    writer = aioredis.Redis.from_url(redis_url)
    store = RedisRunStore(redis_url)
    try:
        with anyio.fail_after(10):
            await writer.set(f"qwen_ci:run:{run_id}", _unreadable(kind, run_id))
            with pytest.raises(StoreUnavailable) as caught:
                await store.get(run_id)
    finally:
        await writer.aclose()
        await store.aclose()

    assert str(caught.value).startswith(f"Redis: unreadable record for {run_id!r}: ")


async def test_a_redis_wait_woken_for_a_run_whose_record_is_gone_meanwhile_returns_none(redis_url: str) -> None:
    # Break: RedisRunStore.wait reading the record woken for as there (dropping `record is None or` after a
    # message): a record deleted or expired between the write and the read is an AttributeError, not "no run".
    run_id = new_run_id()
    key = f"qwen_ci:run:{run_id}"
    raw = aioredis.Redis.from_url(redis_url)
    store = ReadCountingStore(redis_url)
    results: list[RunRecord | None] = []
    try:
        with anyio.fail_after(10):
            await store.put(RunRecord(run_id, started_at=0.0))
            async with anyio.create_task_group() as tg:

                async def wait() -> None:
                    results.append(await store.wait(run_id, 0, 8))

                tg.start_soon(wait)
                await store.first_read.wait()  # subscribed, and found the record still at version 0
                await raw.delete(key)
                await raw.publish(key, "1")
    finally:
        await raw.aclose()
        await store.aclose()

    assert results == [None]
