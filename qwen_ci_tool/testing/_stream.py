"""Byte-level stream shaping: how rendered events reach the socket.

A :class:`Shaper` rewrites each event for the framing faults (line endings, keep-alive comments,
unknown fields, one broken JSON line); a :class:`Sink` cuts the bytes into HTTP chunks - one per
event normally, fixed sizes for the drip/chunks faults and for benchmark blocks.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

from ._faults import Fault
from ._http import Connection
from ._wire import Event, Shape

__all__ = ["Shaper", "Sink", "split_events"]

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def split_events(data: bytes) -> Iterator[Event]:
    """Cut a recorded stream into its events (each keeps its blank-line terminator)."""
    start = 0
    for match in _EVENT_END.finditer(data):
        yield data[start : match.end()], False
        start = match.end()
    if start < len(data):
        yield data[start:], False


# Unknown-name events for the forward-compatibility fault, spelled as each protocol spells SSE.
_UNKNOWN_EVENT: dict[Shape, bytes] = {
    "dashscope": (
        b'event:x-emulator-notice\nx-emulator-field:ignored\ndata:{"notice":"an event type from a future version"}\n\n'
    ),
    "openai": (
        b"event: x-emulator-notice\nx-emulator-field: ignored\n"
        b'data: {"notice":"an event type from a future version"}\n\n'
    ),
    "responses": (
        b"event:response.x_emulator_notice\nx-emulator-field:ignored\n:HTTP_STATUS/200\n"
        b'data:{"notice":"an event type from a future version","type":"response.x_emulator_notice"}\n\n'
    ),
}
_DATA_LINE = re.compile(rb"^data: ?", re.MULTILINE)


class Shaper:
    """Applies one fault's byte-level rewrites to each event as it is sent."""

    def __init__(self, fault: Fault | None, shape: Shape) -> None:
        self.fault = fault
        self.shape = shape
        kind = fault.kind if fault else None
        self.ending = fault.line_ending.encode() if fault and kind == "line_endings" else b"\n"
        self.keepalive_every = fault.every if fault and kind == "keepalive" else 0
        self.unknown = kind == "unknown_fields"
        self.malformed_at = fault.after_events if fault and kind == "malformed_json" else None

    def _line_endings(self, data: bytes) -> bytes:
        # JSON escapes newlines inside strings, so every raw "\n" here is SSE framing.
        return data if self.ending == b"\n" else data.replace(b"\n", self.ending)

    def shape_event(self, data: bytes, index: int) -> bytes:
        """``data`` is event number ``index`` (0-based) of the stream."""
        if self.unknown:
            data = self._add_unknown_fields(data)
        if self.malformed_at is not None and index == self.malformed_at:
            data = self._break_json(data)
        out = self._line_endings(data)
        if self.unknown and index == 0:
            out += self._line_endings(_UNKNOWN_EVENT[self.shape])
        if self.keepalive_every and (index + 1) % self.keepalive_every == 0:
            out += self._line_endings(b": keep-alive\n\n")
        return out

    @staticmethod
    def _add_unknown_fields(data: bytes) -> bytes:
        match = _DATA_LINE.search(data)
        if match is None or data[match.end() : match.end() + 1] != b"{":
            return data
        at = match.end() + 1
        field_line = b"x-emulator-field:ignored\n" if match.group() == b"data:" else b"x-emulator-field: ignored\n"
        return (
            data[: match.start()]
            + field_line
            + data[match.start() : at]
            + b'"x_emulator_future":{"ignored":true},'
            + data[at:]
        )

    @staticmethod
    def _break_json(data: bytes) -> bytes:
        match = _DATA_LINE.search(data)
        if match is None:
            return data
        end = data.find(b"\n", match.end())
        end = len(data) if end < 0 else end
        payload = data[match.end() : end]
        return data[: match.end()] + payload[: max(1, len(payload) // 2)] + data[end:]


class Sink:
    """Writes stream bytes as HTTP chunks.

    Without ``sizes`` or ``block`` each event is one chunk, as the real service sends them.
    With ``sizes`` the bytes are cut in those sizes (cycling), ``interval`` seconds apart; with
    ``block`` in fixed blocks. Cut bytes of an unfinished piece wait for the next event, and
    ``flush()`` sends them before any pause, stall or drop so faults strike at event boundaries.
    """

    def __init__(
        self, conn: Connection, sizes: tuple[int, ...] = (), interval: float = 0.0, block: int | None = None
    ) -> None:
        self.conn = conn
        self.sizes = (block,) if block else sizes
        self.interval = interval
        self._buffer = bytearray()
        self._turn = 0

    async def send(self, data: bytes) -> None:
        if not self.sizes:
            await self.conn.send_chunk(data)
            return
        self._buffer += data
        await self._pieces(final=False)

    async def flush(self) -> None:
        if self.sizes:
            await self._pieces(final=True)

    async def _pieces(self, *, final: bool) -> None:
        buffer = self._buffer
        start = 0
        while start < len(buffer):
            size = self.sizes[self._turn % len(self.sizes)]
            if len(buffer) - start < size and not final:
                break
            await self.conn.send_chunk(bytes(buffer[start : start + size]))
            start += size
            self._turn += 1
            if self.interval:
                await asyncio.sleep(self.interval)
        del buffer[:start]
