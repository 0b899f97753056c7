"""Guards from the s36 hand sweep of the run stores, the runner and the HTTP layer (issue 26): the quiet
effects a one-line break would leave unseen - a subscription never closed, a table entry never released.

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
import uvicorn

from mcp_server._ops import Ops
from mcp_server.http.app import ListenError, listening_socket
from mcp_server.http.auth import TokenFileError, is_loopback, parse_token_file
from mcp_server.http.cancels import Exchanges
from mcp_server.runs import RunRecord, StoreUnavailable, new_run_id
from mcp_server.runs import link as link_module
from mcp_server.runs import progress as progress_module
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.memory import MemoryRunStore
from mcp_server.runs.redis_store import RedisRunStore
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .test_drain_order import NoProgress, runner_on
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def _subscribers(raw: aioredis.Redis, channel: str) -> int:
    counts = await raw.pubsub_numsub(channel)
    return int(counts[0][1])


async def test_a_redis_wait_unsubscribes_from_its_run_once_it_returns_so_waits_leave_no_connections_open(
    redis_url: str,
) -> None:
    # Break: RedisRunStore.wait's `finally: await _close(pubsub)` dropped (one subscribed connection per wait).
    store = RedisRunStore(redis_url)
    raw = aioredis.Redis.from_url(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0)
    channel = f"qwen_ci:run:{record.run_id}"
    try:
        with anyio.fail_after(10):
            await store.put(record)
            assert await store.wait(record.run_id, record.version, 0.05) == record  # timed out: the record as it is
            assert await store.wait(record.run_id, -1, 5) == record  # newer than asked at once
            assert await _subscribers(raw, channel) == 0
    finally:
        await store.aclose()
        await raw.aclose()


async def test_listening_for_cancels_in_redis_ends_its_subscription_when_the_listener_is_closed(
    redis_url: str,
) -> None:
    # Break: RedisRunStore.cancels' `finally: await _close(pubsub)` dropped (the subscription outlives its listener).
    store = RedisRunStore(redis_url)
    raw = aioredis.Redis.from_url(redis_url)
    listening = anyio.Event()
    try:
        with anyio.fail_after(10):
            cancels = store.cancels(listening.set)
            async with anyio.create_task_group() as tg:

                async def take_one() -> None:
                    async for _ in cancels:
                        return

                tg.start_soon(take_one)
                await listening.wait()
                assert await _subscribers(raw, "qwen_ci:cancel") == 1
                await store.publish_cancel("p", "1")
            await cancels.aclose()  # type: ignore[attr-defined]
            assert await _subscribers(raw, "qwen_ci:cancel") == 0
    finally:
        await store.aclose()
        await raw.aclose()


async def test_adding_a_run_to_the_memory_store_sweeps_out_results_past_their_ttl_without_anyone_reading_them() -> None:
    # Break: MemoryRunStore.put's `self._prune()` dropped (expired results stay in the table until read or counted).
    now = [0.0]
    store = MemoryRunStore(ttl=60, clock=lambda: now[0])
    done = RunRecord(new_run_id(), started_at=0.0)
    await store.put(done)
    await store.put(done.advanced(state="finished", result={"content": []}, finished_at=0.0))
    now[0] = 60.0
    await store.put(RunRecord(new_run_id(), started_at=60.0))
    assert done.run_id not in store._entries and store._finished == []


async def test_a_memory_store_wait_after_a_change_waits_for_the_next_change_not_the_one_already_seen() -> None:
    # Break: MemoryRunStore.put's `entry.changed = None` dropped (every later wait wakes at once, on the old change).
    store = MemoryRunStore()
    record = RunRecord(new_run_id(), started_at=0.0)
    await store.put(record)
    seen: list[RunRecord | None] = []

    async def waiter(after: int) -> None:
        seen.append(await store.wait(record.run_id, after, 30))

    newer = record.advanced(stage="thinking")
    newest = newer.advanced(stage="running code #1")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, record.version)
            await anyio.wait_all_tasks_blocked()
            await store.put(newer)
        assert seen == [newer]
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, newer.version)
            await anyio.wait_all_tasks_blocked()
            assert seen == [newer], "nothing changed since: the second wait still waits"
            await store.put(newest)
        assert seen == [newer, newest]


_TOKEN = "0123456789abcdef"


@pytest.mark.parametrize(
    ("line", "said"),
    [
        (f"alice:{_TOKEN} {_TOKEN}", "must be printable ASCII without spaces"),
        (f"alice:{_TOKEN}\x01{_TOKEN}", "must be printable ASCII without spaces"),
        (f"al!ce:{_TOKEN}", "the client name must be 1-64 letters"),
        (f"-alice:{_TOKEN}", "the client name must be 1-64 letters"),
        (f"{'a' * 65}:{_TOKEN}", "the client name must be 1-64 letters"),
    ],
)
def test_a_token_file_line_with_a_space_or_control_character_in_its_token_or_a_bad_name_is_refused(
    tmp_path: Path, line: str, said: str
) -> None:
    # Breaks: parse_token_file's `" " in token` or `not token.isprintable()` dropped; `_NAME.fullmatch` as
    # `match`; the name's `{0,63}` as `{0,64}`.
    path = tmp_path / "tokens"
    path.write_text(f"bob:{_TOKEN}-bob\n{line}\n", encoding="utf-8")
    with pytest.raises(TokenFileError, match=re.escape(f"{path}, line 2: ") + ".*" + re.escape(said)):
        parse_token_file(path)


def test_a_token_file_skips_indented_comments_and_blank_lines_and_trims_names_and_tokens(tmp_path: Path) -> None:
    # Breaks: parse_token_file testing `raw` (not the stripped line) for "#" or emptiness; the strip() dropped.
    path = tmp_path / "tokens"
    path.write_text(f"   # the team\n \t \n  alice : {_TOKEN}  \n{'b' * 64}:{_TOKEN}-b\n", encoding="utf-8")
    assert parse_token_file(path) == {_TOKEN: "alice", f"{_TOKEN}-b": "b" * 64}


async def test_an_admitted_call_that_ends_without_starting_its_run_is_no_longer_waited_for_by_the_drain() -> None:
    # Break: Exchanges.open's `self._settled(exchange)` in its finally dropped (the drain would wait for a call
    # that is gone, and the set of unstarted calls grows with every call refused before its run).
    exchanges = Exchanges()
    for request_id in range(3):
        with exchanges.open("client", request_id, admitted=True):
            pass
    with anyio.fail_after(5):
        await exchanges.admitted_started()
    assert exchanges._unstarted == set()


def _open_descriptors() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_port_that_cannot_be_bound_leaves_no_socket_open_behind_the_error() -> None:
    # Break: listening_socket's `sock.close()` before raising ListenError dropped (each failed bind keeps a
    # descriptor for as long as the error lives).
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        config = uvicorn.Config(lambda: None, host="127.0.0.1", port=holder.getsockname()[1])
        before = _open_descriptors()
        errors = []
        for _ in range(3):
            with pytest.raises(ListenError) as caught:
                listening_socket(config)
            errors.append(caught.value)  # the error (its traceback) kept, as a caller logging it would
        assert _open_descriptors() == before


@pytest.mark.parametrize("host", ["LOCALHOST", "Localhost", "[::1]", "127.0.0.2"])
def test_localhost_in_any_case_and_any_loopback_address_count_as_loopback(host: str) -> None:
    # Breaks: is_loopback's `host.lower()` dropped; the brackets of an IPv6 address not stripped.
    assert is_loopback(host)


async def test_a_negative_shutdown_grace_counts_as_none_for_the_runs_and_the_whole_shutdown() -> None:
    # Break: Deadline's `max(0.0, grace)` dropped (a grace of -8 s would be logged, and the runs' part of it
    # computed, as a negative number of seconds).
    deadline = Deadline(-8)
    assert (deadline.grace, deadline.runs_grace) == (0.0, 0.0)
    assert deadline.left() == 0.0 and deadline.runs_left() == 0.0


class _DownStore(MemoryRunStore):
    """A shared store that cannot be listened to: every attempt fails at once."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def cancels(self, on_listening: Callable[[], None]) -> AsyncIterator[tuple[str, str]]:
        self.attempts += 1
        raise StoreUnavailable("Redis: ConnectionError: refused")
        yield ("", "")  # pragma: no cover - makes this an async generator


class _Stop(Exception):
    pass


async def test_while_the_shared_store_is_down_a_replica_tries_to_listen_for_cancels_again_every_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break: link.py's `_RELISTEN_DELAY = 1.0` changed (cancels from other replicas lost for longer after an outage).
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            raise _Stop

    monkeypatch.setattr(link_module, "anyio", SimpleNamespace(sleep=sleep))
    store = _DownStore()
    link = link_module.StoreLink(store, Ops())
    with pytest.raises(_Stop):
        await link.listen_for_cancels(lambda principal, request_id: None)
    assert pauses == [1.0, 1.0, 1.0] and store.attempts == 3 and link.down


class _Ctx:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def report_progress(self, progress: float, total: Any, message: str) -> None:
        self.sent.append(message)


async def test_a_heartbeat_is_due_exactly_one_interval_after_the_last_report_and_each_report_restarts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Breaks: Progress.beat_if_due's `>=` as `>`; Progress.report not restarting the interval (`_last`).
    now = [100.0]
    monkeypatch.setattr(progress_module, "anyio", SimpleNamespace(current_time=lambda: now[0], Lock=anyio.Lock))
    ctx = _Ctx()
    progress = progress_module.Progress(ctx, 5.0)  # type: ignore[arg-type]
    now[0] = 103.0
    await progress.report("thinking")
    now[0] = 107.0
    await progress.beat_if_due()  # 4 s since the report: not due
    now[0] = 108.0
    await progress.beat_if_due()  # 5 s: due
    assert ctx.sent == ["thinking", "thinking (still working, 8 s elapsed)"]


class _FailsOnce(MemoryRunStore):
    """A shared store whose first write fails (an outage), and every later one succeeds."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def put(self, record: RunRecord) -> None:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable("Redis: ConnectionError: refused")
        await super().put(record)


async def test_a_write_to_the_shared_store_that_succeeds_after_a_failed_one_marks_the_store_up_again() -> None:
    # Break: Runner._write_shared's `self.link.ok()` after a successful put dropped (over stdio, where nothing
    # listens for cancels, the store would stay "unavailable" in the metrics and handle texts for good).
    store = _FailsOnce()
    with Emulator() as emu, anyio.fail_after(20):
        async with runner_on(emu, run_store=store) as (runner, runs):
            answer = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
            await runner.drain(30)  # every record written
            assert store.failed and not runner.link.down
            assert runner.ops.metrics.run_store_up._value.get() == 1
    assert SEED_ANSWER in text_of(answer)
