"""The smallest HTTP/1.1 the emulator needs, on asyncio streams.

Requests: a request line, headers, and a ``Content-Length`` or chunked body. Responses: a fixed
body, or a chunked stream whose chunk boundaries the caller controls (faults cut streams at
awkward places on purpose). Keep-alive is supported because the vendor SDK pools connections.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import urlsplit

__all__ = ["BadRequest", "Connection", "Request"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024


class BadRequest(Exception):
    """The bytes on the socket are not an HTTP/1.1 request we can answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes
    keep_alive: bool


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Connection:
    """One client connection: reads requests, writes responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        # Bytes read ahead of the current request (by ``wait_for_eof``) wait here for the next one.
        self._buffer = bytearray()

    # -- reading -----------------------------------------------------------------------------

    async def _fill(self) -> bool:
        data = await self.reader.read(65536)
        if not data:
            return False
        self._buffer += data
        return True

    async def _read_until(self, marker: bytes, limit: int) -> bytes | None:
        start = 0
        while True:
            i = self._buffer.find(marker, start)
            if i >= 0:
                out = bytes(self._buffer[:i])
                del self._buffer[: i + len(marker)]
                return out
            if len(self._buffer) > limit:
                raise BadRequest(431, "request head too large")
            start = max(0, len(self._buffer) - len(marker) + 1)
            if not await self._fill():
                if self._buffer:
                    raise BadRequest(400, "connection closed mid-request")
                return None

    async def _read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if not await self._fill():
                raise BadRequest(400, "connection closed mid-body")
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    async def read_request(self) -> Request | None:
        """The next request, or ``None`` when the client closed an idle connection."""
        head = await self._read_until(b"\r\n\r\n", _MAX_HEAD)
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise BadRequest(400, "malformed request line") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(400, "malformed header line")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked_body()
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise BadRequest(400, "bad Content-Length") from None
            if length < 0 or length > _MAX_BODY:
                raise BadRequest(413, "body too large")
            body = await self._read_exactly(length)
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        path = urlsplit(target).path or "/"
        return Request(method.upper(), path, headers, body, keep_alive)

    async def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await self._read_until(b"\r\n", 1024)
            if size_line is None:
                raise BadRequest(400, "connection closed mid-body")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size") from None
            if size == 0:
                # Trailers, if any, end with an empty line.
                while await self._read_until(b"\r\n", _MAX_HEAD):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise BadRequest(413, "body too large")
            parts.append(await self._read_exactly(size))
            await self._read_exactly(2)

    async def wait_for_eof(self) -> None:
        """Return when the client closes its side; data it sends meanwhile is kept for later.

        Run alongside a streaming response so a client that hangs up during a stall or a code
        pause is noticed at once rather than at the next write.
        """
        while len(self._buffer) <= _MAX_HEAD and await self._fill():
            pass

    # -- writing -----------------------------------------------------------------------------

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}", f"date: {formatdate(usegmt=True)}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send_full(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """A complete response with a ``content-length``."""
        self.writer.write(self._head(status, [*headers, ("content-length", str(len(body)))]) + body)
        await self.writer.drain()

    async def start_chunked(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.writer.write(self._head(status, [*headers, ("transfer-encoding", "chunked")]))
        await self.writer.drain()

    async def send_chunk(self, data: bytes) -> None:
        if data:
            self.writer.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
            await self.writer.drain()

    async def end_chunked(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()
