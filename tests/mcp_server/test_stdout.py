"""The stdio wire's writer (``_stdout``): order, back-pressure from a client that stops reading, a client gone."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import BinaryIO

import anyio
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
