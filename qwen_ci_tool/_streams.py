"""The streams a client's ``stream()`` returns: typed events over one call, and its result."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType

from ._engine import CallState
from ._exceptions import QwenCIError
from ._result import CodeInterpreterResult, StreamEvent

__all__ = ["AsyncCodeInterpreterStream", "CodeInterpreterStream"]


class _StreamBase:
    def __init__(self, state: CallState) -> None:
        self._state = state
        self._error: QwenCIError | None = None  # what the stream raised, raised again by get_final_result

    def snapshot(self) -> CodeInterpreterResult:
        """What has arrived so far (status ``"incomplete"`` until the end)."""
        return self._state.result or self._state.snapshot()

    def _final(self) -> CodeInterpreterResult:
        """The result once the events have run out: the error the stream ended with, or the
        stream was closed before its end."""
        if self._error is not None:
            raise self._error
        if self._state.result is None:
            raise QwenCIError(
                "The stream was closed before it completed (its block was left or close() was called), so it has "
                "no final result: snapshot() gives what had arrived. Read the stream to its end before closing "
                "it; asking again starts a new call (billed again).",
                partial=self.snapshot(),
            )
        return self._state.result


class CodeInterpreterStream(_StreamBase):
    """Iterator of typed events over one call; a context manager that closes the connection.

    >>> with ci.stream("Compute 123**23 / 5") as stream:
    ...     for event in stream: ...
    ...     result = stream.get_final_result()
    """

    def __init__(self, events: Iterator[StreamEvent], state: CallState) -> None:
        super().__init__(state)
        self._events = events

    def __enter__(self) -> CodeInterpreterStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> CodeInterpreterStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            return next(self._events)
        except QwenCIError as exc:
            self._error = exc
            raise

    def close(self) -> None:
        """Stop reading and release the connection (safe to call twice)."""
        self._events.close()  # type: ignore[attr-defined]

    def get_final_result(self) -> CodeInterpreterResult:
        """Read to the end (if not done yet) and return the result; raises what the stream raised."""
        for _ in self:
            pass
        return self._final()


class AsyncCodeInterpreterStream(_StreamBase):
    """Async iterator of typed events over one call; an async context manager that closes it."""

    def __init__(self, events: AsyncIterator[StreamEvent], state: CallState) -> None:
        super().__init__(state)
        self._events = events

    async def __aenter__(self) -> AsyncCodeInterpreterStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncCodeInterpreterStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            return await self._events.__anext__()
        except QwenCIError as exc:
            self._error = exc
            raise

    async def aclose(self) -> None:
        """Stop reading and release the connection (safe to call twice)."""
        await self._events.aclose()  # type: ignore[attr-defined]

    async def get_final_result(self) -> CodeInterpreterResult:
        """Read to the end (if not done yet) and return the result; raises what the stream raised."""
        async for _ in self:
            pass
        return self._final()
