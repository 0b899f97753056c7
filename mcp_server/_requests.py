"""The request a tool handler serves, as its transport sees it: something the transport may abort.

Over HTTP the gate (``http.gate``) opens an :class:`Exchange` for every JSON-RPC request and sets
:data:`current_exchange` for its handler (the SDK runs handlers in the request's context); a
client's disconnect or its ``notifications/cancelled`` (routed by ``http.cancels``) aborts it.
A tool handler waits inside :meth:`Exchange.guard`, whose cancel scope an abort cancels. Over stdio
and in-process there is no exchange: the SDK cancels the handler itself. :class:`CancelScopes`, the
scopes cancelled together (now and from then on), serves the guards and the gate's body reads.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import anyio

__all__ = ["CancelScopes", "Exchange", "current_exchange"]


class CancelScopes:
    """Cancel scopes handed out by :meth:`open` until :meth:`cancel`, which cancels those open and
    every one opened after it at once."""

    def __init__(self) -> None:
        self._cancelled = False
        self._open: set[anyio.CancelScope] = set()

    @contextmanager
    def open(self) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            if self._cancelled:
                scope.cancel()
            self._open.add(scope)
            try:
                yield scope
            finally:
                self._open.discard(scope)

    def cancel(self) -> None:
        self._cancelled = True
        for scope in self._open:
            scope.cancel()


class Exchange:
    """One JSON-RPC request over HTTP, from its body to the end of its response."""

    def __init__(self, *, admitted: bool, on_start: Callable[[Exchange], None]) -> None:
        self.reason: str | None = None
        #: The gate let this request in as a new call while the server still took calls: the run
        #: it starts is not refused for a shutdown begun since (nginx could no longer retry it).
        self.admitted = admitted
        #: Told when the handler has registered the run this call starts (the drain waits for that).
        self._on_start = on_start
        self._guards = CancelScopes()

    def start(self) -> None:
        """The handler has registered this call's run: whoever waits for it to do so is told."""
        self._on_start(self)

    @property
    def aborted(self) -> bool:
        return self.reason is not None

    def abort(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._guards.cancel()

    def guard(self) -> AbstractContextManager[anyio.CancelScope]:
        """A cancel scope that an abort of this exchange cancels (at once if it already was)."""
        return self._guards.open()


#: The exchange of the HTTP request a tool handler serves; None over stdio and in-process.
current_exchange: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("qwen_ci_exchange", default=None)
