"""A sans-I/O Server-Sent Events parser that works on raw bytes.

Why not ``httpx_sse``: the native protocol signals errors inside a 200 stream with an SSE
*comment* (``:HTTP_STATUS/500``) and a non-standard ``status:`` field, both of which a
spec-following parser drops. Working on bytes also means one UTF-8 decoding pass per payload
(just before JSON parsing) instead of one for the whole stream's text and lines, and splitting on
``\\n`` never cuts a UTF-8 character.

Feed it chunks cut anywhere (inside a UTF-8 character, between ``\\r`` and ``\\n``, in the middle
of ``data:``); it returns the events completed by each chunk.
"""

from __future__ import annotations

from ._constants import MAX_LINE_BYTES
from ._exceptions import ProtocolError
from ._types import SSEEvent

__all__ = ["SSEParser"]


def _parse_status(value: bytes) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


#: Decoded event names by their bytes ("result", "error", the Responses API's few dozen): an
#: event line per frame would otherwise decode the same word again each time. Bounded.
_NAMES: dict[bytes, str] = {}


def _name(value: bytes) -> str:
    name = value.decode("utf-8", "replace")
    if len(_NAMES) < 256 and len(value) <= 64:
        _NAMES[value] = name
    return name


class SSEParser:
    """Incremental SSE parser: ``feed(bytes) -> list[SSEEvent]``, then ``close()`` at EOF."""

    __slots__ = ("_data", "_event", "_id", "_max_line", "_partial", "_partial_len", "_skip_lf", "_status")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max_line = max_line_bytes
        self._partial: list[bytes] = []
        self._partial_len = 0
        self._skip_lf = False
        self._event = ""
        self._data: list[bytes] = []
        self._id: bytes | None = None
        self._status: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            # The previous chunk ended in "\r": a "\n" here belongs to the same line break.
            self._skip_lf = False
            if chunk[0] == 10:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\r" in chunk:
            self._skip_lf = chunk[-1] == 13
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._partial:
            cut = chunk.find(b"\n")
            if cut < 0:
                self._buffer(chunk)
                return []
            self._partial.append(chunk[:cut])
            head = b"".join(self._partial)
            self._partial = []
            self._partial_len = 0
            lines = chunk[cut + 1 :].split(b"\n")
            lines[0:0] = [head]
        else:
            lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            self._buffer(tail)
        # Every line takes this one path, with the parser's state in locals: it runs five times per
        # native frame, and a method call per line was the parser's largest cost.
        events: list[SSEEvent] = []
        data = self._data
        event = self._event
        status = self._status
        for line in lines:
            if not line:
                if data or event or status is not None:
                    events.append(SSEEvent(event, data[0] if len(data) == 1 else b"\n".join(data), self._id, status))
                    event = ""
                    data = []
                    status = None
            elif line[0] == 100 and line.startswith(b"data:"):  # "d"
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value)
            elif line[0] == 58:  # ":" comment; the native protocol puts ":HTTP_STATUS/<n>" here
                if line.startswith(b":HTTP_STATUS/") and line != b":HTTP_STATUS/200":
                    code = _parse_status(line[13:])
                    if code is not None and code != 200:
                        status = code
            else:
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"event":
                    event = _NAMES.get(value) or _name(value)
                elif name == b"id":
                    self._id = value  # decoded by SSEEvent.id, if anyone asks
                elif name == b"status":
                    code = _parse_status(value)
                    if code is not None and code != 200:
                        status = code
                # Other fields (retry, unknown ones) are ignored, as the SSE spec says.
        self._data = data
        self._event = event
        self._status = status
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line still counts (the service's last frame).

        The end of the stream ends the last line and the last event, as two line breaks would (if
        the first is taken as the LF of a final CR, the second still ends the event).
        """
        return self.feed(b"\n\n")

    def _buffer(self, piece: bytes) -> None:
        self._partial.append(piece)
        self._partial_len += len(piece)
        if self._partial_len > self._max_line:
            # A bare fact: the engine adds what to do (see qwen_ci_tool._errors.worded).
            raise ProtocolError(
                f"The stream sent a line longer than {self._max_line} bytes without a line break; "
                "it is not a valid event stream."
            )
