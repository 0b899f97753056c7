"""Guards from the second mutation sweep of ``mcp_server/runs`` (results, the Redis store, the link, the
handles, the shutdown's deadline) and of the HTTP exchange (issue 26).

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from mcp.types import CallToolResult

from mcp_server._ops import Ops
from mcp_server._requests import current_exchange
from mcp_server._texts import NOT_STARTED_TEXT
from mcp_server.http.cancels import Exchanges
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.link import StoreLink
from mcp_server.runs.redis_store import RedisRunStore
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..redis_server import free_port, redis_process
from .test_drain_order import NoProgress, runner_on
from .test_ops import metric_samples, value
from .test_tool import text_of

pytestmark = pytest.mark.anyio


async def test_a_call_let_in_and_queued_for_a_slot_before_sigterm_is_refused_at_once_not_after_the_runs_grace() -> None:
    # Break: Exchange.start() doing nothing -> the drain waits for the admitted call's exchange to end
    # before it refuses queued calls: the client is held for the runs' part of the grace (27 s here),
    # and gets the slot (and is billed) if the running call ends first.
    exchanges = Exchanges()
    answers: dict[str, CallToolResult] = {}
    queued_answered = anyio.Event()
    with Emulator(call_seconds=30) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_concurrency=1) as (runner, runs):

            async def running() -> None:
                answers["running"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

            async def queued() -> None:
                with exchanges.open("client", 2, admitted=True) as exchange:  # the gate let it in
                    current_exchange.set(exchange)
                    answers["queued"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
                queued_answered.set()

            runs.start_soon(running)
            await anyio.wait_all_tasks_blocked()
            runs.start_soon(queued)
            await anyio.wait_all_tasks_blocked()
            assert [run.queued for run in runner.live.values()] == [False, True]
            runs.start_soon(runner.drain, Deadline(30), exchanges.admitted_started)  # SIGTERM
            with anyio.move_on_after(5):
                await queued_answered.wait()
            running_left = "running" not in answers
            runs.cancel_scope.cancel()

    assert "queued" in answers, "the queued call must be refused when the drain begins, not held for the runs' grace"
    assert answers["queued"].is_error and text_of(answers["queued"]) == NOT_STARTED_TEXT
    assert running_left, "refused while the running call still runs"
    assert len(emu.requests) == 1


class LogWatch(logging.Handler):
    """The ``mcp_server`` log lines of a test, and a way to wait for one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self._changed.set()
        self._changed = anyio.Event()

    def lines(self, text: str) -> list[tuple[int, str]]:
        return [(r.levelno, r.getMessage()) for r in self.records if text in r.getMessage()]

    async def wait_for(self, text: str, count: int = 1) -> None:
        while len(self.lines(text)) < count:
            await self._changed.wait()


@contextmanager
def log_watch() -> Iterator[LogWatch]:
    watch = LogWatch()
    logger = logging.getLogger("mcp_server")
    level = logger.level
    logger.addHandler(watch)
    logger.setLevel(logging.DEBUG)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)


def store_metrics(link: StoreLink) -> tuple[float, float, float]:
    """The link's ``run_store_up`` and its errors for forwarding and for listening."""
    samples = metric_samples(link.ops.metrics.exposition().decode())
    return (
        value(samples, "qwen_ci_run_store_up"),
        value(samples, "qwen_ci_run_store_errors_total", operation="cancel"),
        value(samples, "qwen_ci_run_store_errors_total", operation="listen"),
    )


def collector(got: list[tuple[str, str]]) -> tuple[Callable[[str, str], None], Callable[[int], anyio.Event]]:
    """A cancel callback appending to *got*, and an event set once *got* holds n cancels."""
    waiting: dict[int, anyio.Event] = {}

    def cancel(principal: str, request_id: str) -> None:
        got.append((principal, request_id))
        for n, event in waiting.items():
            if len(got) >= n:
                event.set()

    def when(n: int) -> anyio.Event:
        event = waiting.setdefault(n, anyio.Event())
        if len(got) >= n:
            event.set()
        return event

    return cancel, when


async def test_a_cancel_forwarded_by_one_replica_reaches_the_other_as_principal_and_request_id_past_junk_on_the_channel(
    redis_url: str,
) -> None:
    # Breaks: StoreLink.forward_cancel/listen_for_cancels or RedisRunStore.publish_cancel/cancels not
    # sending, not calling back, swapping or dropping principal and request id, ending on a message
    # that is not a [principal, request_id] pair; the link not marking the store up after a forward.
    a, b = StoreLink(RedisRunStore(redis_url), Ops()), StoreLink(RedisRunStore(redis_url), Ops())
    got: list[tuple[str, str]] = []
    cancel, when = collector(got)
    raw = aioredis.Redis.from_url(redis_url)
    try:
        with log_watch() as logs, anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(b.listen_for_cancels, cancel)
                await logs.wait_for("listening for cancels forwarded by other replicas")
                for junk in ("not json", "[1]", "5", '{"a": 1}'):
                    await raw.publish("qwen_ci:cancel", junk)
                await a.forward_cancel("alice", "7")
                await when(1).wait()
                await raw.publish("qwen_ci:cancel", "[3, 4]")  # another replica's ids, whatever their JSON type
                await when(2).wait()
                tg.cancel_scope.cancel()
    finally:
        await raw.aclose()
        await a.store.aclose()  # type: ignore[union-attr]
        await b.store.aclose()  # type: ignore[union-attr]

    assert got == [("alice", "7"), ("3", "4")]
    assert logs.lines("listening") == [(logging.INFO, "listening for cancels forwarded by other replicas")]
    assert store_metrics(a) == (1, 0, 0) and store_metrics(b) == (1, 0, 0)


async def test_a_cancel_that_cannot_be_forwarded_is_counted_and_logged_once_at_error_then_quietly_until_the_store_is_back(
    redis_url: str,
) -> None:
    # Breaks: StoreLink.failed not counting the operation, not setting run_store_up to 0, logging
    # every failure at ERROR (or none), the reason or operation missing; ok() not setting it back
    # to 1 or not saying the store is back; RedisRunStore.publish_cancel letting a Redis error out.
    link = StoreLink(RedisRunStore(f"redis://127.0.0.1:{free_port()}/0"), Ops())  # nothing listens there
    with log_watch() as logs, anyio.fail_after(20):
        await link.forward_cancel("alice", "7")
        first = store_metrics(link)
        await link.forward_cancel("alice", "8")
        second = store_metrics(link)
        await link.store.aclose()  # type: ignore[union-attr]
        link.store = RedisRunStore(redis_url)  # Redis is back
        await link.forward_cancel("alice", "9")
        await link.store.aclose()

    assert (first, second) == ((0, 1, 0), (0, 2, 0))
    assert store_metrics(link) == (1, 2, 0) and not link.down
    failures = logs.lines("run store unavailable")
    assert [level for level, _ in failures] == [logging.ERROR, logging.DEBUG]
    assert failures[0][1].startswith("run store unavailable (cancel): Redis: ConnectionError")
    assert failures[0][1].endswith("; runs go on in this process")
    assert logs.lines("reachable") == [(logging.INFO, "run store reachable again")]


async def test_forwarding_and_listening_without_a_shared_store_do_nothing() -> None:
    # Breaks: StoreLink.forward_cancel/listen_for_cancels not returning at once without a store.
    link = StoreLink(None, Ops())
    with anyio.fail_after(5):
        await link.forward_cancel("alice", "7")
        await link.listen_for_cancels(lambda *_: None)
    assert store_metrics(link) == (1, 0, 0)


async def test_a_replica_listens_again_for_cancels_once_a_restarted_redis_is_back_and_says_so(
    redis_binary: str, tmp_path: Path
) -> None:
    # Breaks: StoreLink.listen_for_cancels ending (or not counting, or not logging "again") when the
    # store fails; RedisRunStore.cancels letting a Redis error out unconverted. Bug found here: listening
    # again left run_store_up at 0 (and the next outage logged at DEBUG only) until another operation
    # succeeded - on an idle replica, for as long as no call came.
    port = free_port()
    got: list[tuple[str, str]] = []
    cancel, when = collector(got)
    with log_watch() as logs, anyio.fail_after(30):
        first_redis = redis_process(redis_binary, tmp_path / "before", port)
        url = first_redis.__enter__()
        listener = StoreLink(RedisRunStore(url), Ops())
        sender = StoreLink(RedisRunStore(url), Ops())
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(listener.listen_for_cancels, cancel)
                await logs.wait_for("listening for cancels")
                first_redis.__exit__(None, None, None)  # Redis stops...
                await logs.wait_for("run store unavailable (listen)")
                down = store_metrics(listener)
                with redis_process(redis_binary, tmp_path / "after", port):  # ...and starts again
                    await logs.wait_for("listening again for cancels")
                    await sender.forward_cancel("alice", "7")
                    await when(1).wait()
                    tg.cancel_scope.cancel()
        finally:
            await listener.store.aclose()  # type: ignore[union-attr]
            await sender.store.aclose()  # type: ignore[union-attr]

    assert got == [("alice", "7")]
    assert down[0] == 0 and down[2] >= 1
    assert logs.lines("unavailable (listen)")[0][0] == logging.ERROR
    assert logs.lines("listening again") == [(logging.INFO, "listening again for cancels forwarded by other replicas")]
    assert store_metrics(listener)[0] == 1 and not listener.down, "listening again is the store answering"
    assert logs.lines("reachable again") == [(logging.INFO, "run store reachable again")]
