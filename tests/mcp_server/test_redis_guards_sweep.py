"""Guards from the second mutation sweep of the Redis run store and of this replica's link to it (issue 26):
cancels forwarded and heard, failures counted and logged, waits woken by writes, timeouts, a lost run.

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment. Redis is the session's ``redis_url`` (or a test's own, when it restarts it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from mcp import Client
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server, server_runtime
from mcp_server._ops import LOCAL_CLIENT, Ops
from mcp_server.runs import RunRecord, StoreUnavailable, new_run_id
from mcp_server.runs.link import StoreLink
from mcp_server.runs.redis_store import RedisRunStore
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from ..redis_server import free_port, redis_process
from .test_ops import metric_samples, value
from .test_redis_failures import never_accepts, never_answers
from .test_tool import Progress, text_of

pytestmark = pytest.mark.anyio


# --- the link: cancels between replicas, the store's health ---------------------------------------------


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
    level, line = logs.lines("unavailable (listen)")[0]
    assert level == logging.ERROR and line.startswith("run store unavailable (listen): Redis: ")  # the reason
    assert logs.lines("listening again") == [(logging.INFO, "listening again for cancels forwarded by other replicas")]
    assert store_metrics(listener)[0] == 1 and not listener.down, "listening again is the store answering"
    assert logs.lines("reachable again") == [(logging.INFO, "run store reachable again")]


# --- the Redis store ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class WatchedStore(RedisRunStore):
    """A Redis store that says when it reads and when a wait begins."""

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url, **options)  # type: ignore[arg-type]
        self.reads = 0
        self._read = anyio.Event()
        self.waiting = anyio.Event()

    async def get(self, run_id: str) -> RunRecord | None:
        record = await super().get(run_id)
        self.reads += 1
        self._read.set()
        self._read = anyio.Event()
        return record

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        self.waiting.set()
        return await super().wait(run_id, after_version, timeout)

    async def reads_reach(self, n: int) -> None:
        while self.reads < n:
            await self._read.wait()


@asynccontextmanager
async def reader_and_writer(
    redis_url: str, seconds: float
) -> AsyncIterator[tuple[WatchedStore, RedisRunStore, RunRecord]]:
    """A watched store to wait with and one to write with, a new run the writer put, all within *seconds*."""
    reader, writer = WatchedStore(redis_url), RedisRunStore(redis_url)
    record = RunRecord(new_run_id(), started_at=0.0)
    try:
        with anyio.fail_after(seconds):
            await writer.put(record)
            yield reader, writer, record
    finally:
        await reader.aclose()
        await writer.aclose()


async def waiting(
    tg: anyio.abc.TaskGroup, reader: WatchedStore, record: RunRecord, timeout: float
) -> list[RunRecord | None]:
    """A wait in *tg*, *timeout* s at most, for a version of *record* past its own, once it has subscribed and
    looked; what it returns lands in the list."""
    got: list[RunRecord | None] = []

    async def wait() -> None:
        got.append(await reader.wait(record.run_id, record.version, timeout))

    tg.start_soon(wait)
    await reader.reads_reach(1)
    return got


async def test_a_wait_returns_a_write_made_during_it_even_with_a_second_left_and_the_record_as_it_is_at_its_timeout(
    redis_url: str,
) -> None:
    # Breaks: RedisRunStore.wait returning at once for timeouts up to 1 s (`timeout <= 1`); never
    # timing out (move_on_after(None), `isfinite and False`); reading another key at its timeout.
    async with reader_and_writer(redis_url, 20) as (reader, writer, record):
        async with anyio.create_task_group() as tg:
            got = await waiting(tg, reader, record, 1.0)  # subscribed and looked: now it waits
            await writer.put(record.advanced(stage="thinking"))
        timed_out = await reader.wait(record.run_id, got[0].version if got[0] else 0, 0.05)

    assert got[0] is not None and got[0].stage == "thinking"
    assert timed_out is not None and timed_out.stage == "thinking"  # nothing new: the record as it is


async def test_a_wait_is_not_ended_by_a_write_of_the_version_it_already_has(redis_url: str) -> None:
    # Breaks: RedisRunStore.wait returning on any message (`record is not None or`) or on the same
    # version (`>=`): a replica writing a record again would end every wait on it with nothing new.
    async with reader_and_writer(redis_url, 20) as (reader, writer, record), anyio.create_task_group() as tg:
        got = await waiting(tg, reader, record, 60)
        await writer.put(record)  # the same version again
        await reader.reads_reach(2)  # read, and found nothing new
        await writer.put(record.advanced(stage="thinking"))

    assert got[0] is not None and got[0].stage == "thinking"


async def test_a_write_wakes_a_wait_at_once_even_while_its_channel_stays_busy(redis_url: str) -> None:
    # Break: RedisRunStore.wait re-reading only after a silent second (`message is not None`): a
    # write would reach a waiter late, and never while its channel stays busy.
    raw = aioredis.Redis.from_url(redis_url)
    try:
        async with reader_and_writer(redis_url, 10) as (reader, writer, record), anyio.create_task_group() as tg:
            got = await waiting(tg, reader, record, 60)
            await writer.put(record.advanced(stage="thinking"))
            while not got:  # others keep publishing on the run's channel
                await raw.publish(f"qwen_ci:run:{record.run_id}", "0")
    finally:
        await raw.aclose()

    assert got[0] is not None and got[0].stage == "thinking"


async def test_every_operation_on_an_unreachable_redis_fails_as_store_unavailable_naming_the_error() -> None:
    # Breaks: RedisRunStore.put/get/wait/publish_cancel/cancels not converting the Redis error, or
    # dropping it from the message (_unavailable(None)); Retry(NoBackoff(), None) (a TypeError).
    store = RedisRunStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    record = RunRecord(new_run_id(), started_at=0.0)
    failures: list[str] = []
    with anyio.fail_after(20):
        for operation in (
            lambda: store.put(record),
            lambda: store.get(record.run_id),
            lambda: store.wait(record.run_id, 0, 5),
            lambda: store.publish_cancel("alice", "7"),
            lambda: anext(aiter(store.cancels(lambda: None))),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await operation()
            failures.append(str(caught.value))
        await store.aclose()

    assert len(failures) == 5
    for failure in failures:
        assert failure.startswith("Redis: ConnectionError: Error 111 connecting to 127.0.0.1:"), failure


@pytest.mark.parametrize("silent", [never_answers, never_accepts], ids=["never-answers", "never-accepts"])
async def test_a_redis_that_never_answers_or_never_accepts_fails_a_read_as_store_unavailable_not_a_hang(
    silent: Callable[[], object],
) -> None:
    # Breaks: RedisRunStore without its answer timeout (socket_timeout None or dropped) or its connect
    # timeout (socket_connect_timeout None or dropped): the read waits for ever (or the kernel's minutes).
    with silent() as url, anyio.fail_after(10):  # type: ignore[attr-defined]
        store = RedisRunStore(url)
        with pytest.raises(StoreUnavailable, match=r"^Redis: (TimeoutError|ConnectionError): Timeout"):
            await store.get(new_run_id())
        await store.aclose()


def test_a_redis_store_gives_up_connecting_after_1_s_and_waiting_for_an_answer_after_2_s() -> None:
    # Breaks: RedisRunStore not passing socket_connect_timeout / socket_timeout: redis-py's defaults (5 s
    # each) then apply, past the "about two seconds" the README promises (the tests above bound the hang,
    # not the seconds: a wall-clock bound would be flaky on these machines).
    store = RedisRunStore(f"redis://127.0.0.1:{free_port()}/0")
    settings = store._redis.connection_pool.connection_kwargs
    assert (settings["socket_connect_timeout"], settings["socket_timeout"]) == (1.0, 2.0)


async def test_an_unreadable_record_in_redis_is_store_unavailable_naming_the_run(redis_url: str) -> None:
    # Break: RedisRunStore.get raising StoreUnavailable(None) for a record it cannot read.
    raw = aioredis.Redis.from_url(redis_url)
    store = RedisRunStore(redis_url)
    run_id = new_run_id()
    try:
        await raw.set(f"qwen_ci:run:{run_id}", json.dumps({"record": {"run_id": run_id}}))
        with pytest.raises(StoreUnavailable) as caught:
            await store.get(run_id)
    finally:
        await raw.aclose()
        await store.aclose()
    assert str(caught.value).startswith(f"Redis: unreadable record for {run_id!r}: ")


async def test_polling_a_run_whose_replica_went_silent_reports_it_lost_and_answers_an_error_saying_how_long(
    redis_url: str,
) -> None:
    # Breaks: RedisRunStore.get's lost record with a result the client cannot read (its content's
    # "type"/"text" changed), or another progress message than "lost".
    clock = Clock()
    store = WatchedStore(redis_url, stale_after=100, clock=clock)
    record = RunRecord(new_run_id(), started_at=clock.now, owner=LOCAL_CLIENT).advanced(stage="running code #1")
    other = RedisRunStore(redis_url, clock=clock)
    await other.put(record)  # another replica's run, as it last wrote it
    await other.aclose()
    server = create_server(api_key=PLANTED_KEY, run_store=store, max_wait=0.2, heartbeat_interval=60)
    progress = Progress()
    with anyio.fail_after(20):
        async with Client(server, raise_exceptions=True) as client, anyio.create_task_group() as tg:
            answers: list[CallToolResult] = []

            async def poll() -> None:
                answers.append(
                    await client.call_tool(RESULT_TOOL_NAME, {"run_id": record.run_id}, progress_callback=progress)
                )

            tg.start_soon(poll)
            await store.waiting.wait()  # the poll found the run going and waits on it...
            clock.now += 250  # ...while its replica stays silent past stale_after

    (answer,) = answers
    assert answer.is_error
    assert text_of(answer).startswith(
        "The server replica running this task stopped before it finished (no news for 250 s), so its result is lost."
    )
    assert progress.messages[-1] == "lost"


async def test_a_finished_run_in_redis_expires_after_the_servers_result_ttl(redis_url: str, emu: Emulator) -> None:
    # Break: open_run_store not passing ttl to RedisRunStore (the record kept the default 600 s).
    url = redis_url.rsplit("/", 1)[0] + "/7"  # a database of this test's own: its only run is this one
    raw = aioredis.Redis.from_url(url)
    await raw.flushdb()
    server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, run_store=url, result_ttl=30)
    try:
        with anyio.fail_after(20):
            async with Client(server, raise_exceptions=True) as client:
                answer = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                await server_runtime(server).drain(10)  # returns once the final record is in the store
            (key,) = await raw.keys("qwen_ci:run:*")
            ttl = await raw.ttl(key)
    finally:
        await raw.aclose()

    assert SEED_ANSWER in text_of(answer)
    assert 0 < ttl <= 30


async def test_a_finished_record_read_long_after_stale_after_is_still_its_result_and_an_unknown_run_is_none(
    redis_url: str,
) -> None:
    # Breaks (the kinds mutmut does not make): RedisRunStore.get's lost rule without its `state ==
    # "running"` side (every result older than stale_after would read as lost, though kept for the TTL);
    # RedisRunStore.wait without its `record is None` side (an unknown run would raise, not be None).
    clock = Clock()
    store = RedisRunStore(redis_url, stale_after=100, ttl=600, clock=clock)
    result = {"content": [{"type": "text", "text": "42"}], "isError": False}
    record = RunRecord(new_run_id(), started_at=clock.now).advanced(
        state="finished", stage="done", result=result, finished_at=clock.now
    )
    try:
        with anyio.fail_after(10):
            await store.put(record)
            clock.now += 300  # past stale_after, within the TTL
            got = await store.get(record.run_id)
            unknown = await store.wait(new_run_id(), -1, 60)
    finally:
        await store.aclose()

    assert got is not None and got.stage == "done" and got.result == result
    assert unknown is None


def test_a_redis_store_shows_its_url_without_the_password() -> None:
    # Breaks: RedisRunStore.__repr__ / self.url = None.
    store = RedisRunStore("redis://app:s3cret@cache.internal:6380/0")
    assert repr(store) == "RedisRunStore('redis://app:***@cache.internal:6380/0')"
    assert store.url == "redis://app:s3cret@cache.internal:6380/0"
