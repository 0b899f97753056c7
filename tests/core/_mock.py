"""httpx MockTransport helpers: the same handler drives the sync and the async client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx

from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreter

#: The two clients every behaviour is checked with: ``CodeInterpreter`` and ``AsyncCodeInterpreter``.
MODES = ["sync", "async"]
SSE = {"content-type": "text/event-stream;charset=UTF-8", "x-request-id": "hdr-rid"}


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body delivered in the given pieces; records whether it was closed."""

    def __init__(self, pieces: Sequence[bytes], error: Exception | None = None) -> None:
        self.pieces = list(pieces)
        self.error = error
        self.closed = False
        self.served = 0  # pieces handed out so far

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.served += 1
            yield piece
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.served += 1
            yield piece
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def sse_response(
    text: str | bytes, *, size: int = 7, error: Exception | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    return httpx.Response(200, headers=headers or SSE, stream=Chunks(cut(data, size), error))


Handler = Callable[[httpx.Request], httpx.Response]


def clients(handler: Handler, **settings: Any) -> tuple[CodeInterpreter, AsyncCodeInterpreter]:
    settings.setdefault("api_key", "sk-test")
    transport = httpx.MockTransport(handler)
    sync = CodeInterpreter(http_client=httpx.Client(transport=transport), **settings)
    asyn = AsyncCodeInterpreter(http_client=httpx.AsyncClient(transport=transport), **settings)
    return sync, asyn


class Script:
    """A handler that answers successive requests from a list of responses (or exceptions)."""

    def __init__(self, *responses: httpx.Response | Exception | Callable[[], httpx.Response]) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(item, Exception):
            raise item
        return item() if callable(item) else item


async def run(mode: str, handler: Handler, question: str = "What is 123 to the power of 21?", **settings: Any) -> Any:
    """Run one call through the sync or the async client (same handler, same settings)."""
    sync, asyn = clients(handler, **settings)
    if mode == "sync":
        with sync:
            return sync.run(question)
    async with asyn:
        return await asyn.run(question)


async def events(mode: str, handler: Handler, question: str = "q", **settings: Any) -> list[Any]:
    sync, asyn = clients(handler, **settings)
    if mode == "sync":
        with sync, sync.stream(question) as stream:
            return list(stream)
    async with asyn, asyn.stream(question) as astream:
        return [event async for event in astream]
