"""The stdio wire's writer (``_stdout``): order, back-pressure from a client that stops reading, a client gone."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import BinaryIO

import anyio
import anyio.abc
import anyio.to_thread
import pytest

from mcp_server import _stdout
from mcp_server._stdout import StdoutLines

pytestmark = pytest.mark.anyio


@pytest.fixture
def pipe() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    yield reader, writer
    reader.close()  # first: a writer still blocked on a full pipe then fails instead of hanging the test
    with contextlib.suppress(OSError):
        writer.close()


async def test_messages_reach_the_wire_whole_and_in_order_once_flushed(pipe: tuple[BinaryIO, BinaryIO]) -> None:
    reader, writer = pipe
    out = StdoutLines(writer)
    with anyio.fail_after(10):
        await out.write('{"id": 1')
        await out.write("}\n")
        await out.flush()
        for n in range(2, 50):
            await out.write(f'{{"id": {n}}}\n')
            await out.flush()
        await out.aclose()  # returns once everything handed over is written
    writer.close()
    assert reader.read().decode().splitlines() == [f'{{"id": {n}}}' for n in range(1, 50)]


async def test_a_client_that_stops_reading_holds_flush_back_instead_of_growing_a_queue(
    pipe: tuple[BinaryIO, BinaryIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stdout, "_MAX_UNWRITTEN", 1000)
    reader, writer = pipe
    out = StdoutLines(writer)
    big = "x" * 300_000  # more than the pipe holds
    flushed = anyio.Event()

    async def send() -> None:
        await out.write(big)
        await out.flush()
        flushed.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(send)
            await anyio.wait_all_tasks_blocked()
            assert not flushed.is_set(), "nobody has read the pipe: flush waits"
            assert await anyio.to_thread.run_sync(reader.read, len(big)) == big.encode()
            await flushed.wait()
        await out.aclose()


async def test_a_client_gone_mid_answer_neither_raises_nor_holds_the_end_up(pipe: tuple[BinaryIO, BinaryIO]) -> None:
    reader, writer = pipe
    out = StdoutLines(writer)
    reader.close()
    with anyio.fail_after(10):
        for _ in range(3):
            await out.write("x" * 100_000 + "\n")
            await out.flush()
        await out.aclose()


class SlowClient:
    """A stdout whose reader takes one write each time the test allows it (``allow``); a write not allowed
    within 20 s fails as a gone client's would (so a broken flush cannot hang the test for ever)."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.data: list[bytes] = []
        self._permits = threading.Semaphore(0)
        self._fail_first = fail_first

    def allow(self, writes: int = 1) -> None:
        for _ in range(writes):
            self._permits.release()

    def write(self, data: bytes) -> int:
        if self._fail_first:
            self._fail_first = False
            raise BrokenPipeError("the client has gone")
        if not self._permits.acquire(timeout=20):
            raise OSError("not allowed to write within 20 s")
        self.data.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


async def flushing(tg: anyio.abc.TaskGroup, out: StdoutLines, text: str) -> anyio.Event:
    """Start writing and flushing *text*; the event is set once ``flush`` returned."""
    done = anyio.Event()

    async def send() -> None:
        await out.write(text)
        await out.flush()
        done.set()

    tg.start_soon(send)
    await anyio.wait_all_tasks_blocked()
    return done


async def test_flush_waits_only_while_more_than_the_limit_is_unwritten_and_until_it_is_back_under(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_stdout, "_MAX_UNWRITTEN", 1000)
    client = SlowClient()
    out = StdoutLines(client)  # type: ignore[arg-type]
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                assert (await flushing(tg, out, "a" * 1000)).is_set(), "exactly the limit unwritten: no wait"
                second = await flushing(tg, out, "b" * 1000)
                assert not second.is_set(), "2000 unwritten: flush waits"
                client.allow()  # the first write: 1000 unwritten, the limit again
                await second.wait()
                third = await flushing(tg, out, "c" * 600)
                assert not third.is_set(), "1600 unwritten: waits"
                client.allow()  # the second write: 600 unwritten
                await third.wait()
                fourth = await flushing(tg, out, "d" * 401)
                assert not fourth.is_set(), "600 + 401 unwritten: one byte past the limit waits"
                client.allow()
                await fourth.wait()
    finally:
        client.allow(10)
        await out.aclose()
    assert b"".join(client.data) == b"a" * 1000 + b"b" * 1000 + b"c" * 600 + b"d" * 401


async def test_a_flush_or_the_close_waiting_on_a_client_that_stopped_reading_gives_way_to_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_stdout, "_MAX_UNWRITTEN", 10)
    client = SlowClient()
    out = StdoutLines(client)  # type: ignore[arg-type]
    try:
        for wait in (lambda: out.flush(), lambda: out.aclose()):
            with anyio.fail_after(10):  # a wait that ignores the cancellation ends only when the client fails
                async with anyio.create_task_group() as tg:
                    await out.write("x" * 100)
                    tg.start_soon(wait)
                    await anyio.wait_all_tasks_blocked()
                    tg.cancel_scope.cancel()
    finally:
        client.allow(10)
        await out.aclose()


async def test_once_writing_failed_no_later_message_reaches_the_wire_and_it_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcp_server")
    client = SlowClient(fail_first=True)
    client.allow(10)
    out = StdoutLines(client)  # type: ignore[arg-type]
    with anyio.fail_after(10):
        for n in range(3):
            await out.write(f'{{"id": {n}}}\n')
            await out.flush()
        await out.aclose()

    assert client.data == []  # never the later messages after a gap: the client would read a torn stream
    [line] = [r for r in caplog.records if "stdout" in r.getMessage()]
    assert line.getMessage() == "stdout closed; later messages are dropped"
    assert line.exc_info and line.exc_info[0] is BrokenPipeError  # what failed, for whoever debugs it


def test_a_server_whose_client_stopped_reading_still_exits() -> None:
    script = (
        "import os, anyio\n"
        "from mcp_server._stdout import StdoutLines\n"
        "read_fd, write_fd = os.pipe()\n"
        "out = StdoutLines(os.fdopen(write_fd, 'wb'))\n"
        "async def main():\n"
        "    await out.write('x' * 1_000_000)\n"  # more than a pipe holds: the writer blocks for ever
        "    await out.flush()\n"
        "anyio.run(main)\n"
        "print('done')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout == "done\n", done.stderr


async def test_while_claimed_stray_output_on_fd_1_goes_to_stderr_and_fd_1_is_the_wires_again_after(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", open(1, "w", closefd=False))  # noqa: SIM115 - fd 1 itself, left open
    with anyio.fail_after(10):
        async with _stdout.claimed_stdout() as out:
            os.write(1, b"stray line\n")
            await out.write('{"id": 1}\n')
            await out.flush()
    os.write(1, b"after\n")
    captured = capfd.readouterr()
    assert captured.out == '{"id": 1}\nafter\n'
    assert "stray line\n" in captured.err
