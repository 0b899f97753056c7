"""The request a tool handler serves, as its transport sees it: something the transport may abort.

Over HTTP the gate (``http.gate``) opens an :class:`Exchange` for every JSON-RPC request and sets
:data:`current_exchange` for its handler (the SDK runs handlers in the request's context); a
client's disconnect or its ``notifications/cancelled`` (routed by ``http.cancels``) aborts it.
A tool handler waits inside :meth:`Exchange.guard`, whose cancel scope an abort cancels. Over stdio
and in-process there is no exchange: the SDK cancels the handler itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

__all__ = ["Exchange", "current_exchange"]


class Exchange:
    """One JSON-RPC request over HTTP, from its body to the end of its response."""

    def __init__(
        self,
        principal: str,
        request_id: object,
        *,
        admitted: bool = False,
        on_start: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.principal = principal
        self.request_id = request_id
        self.reason: str | None = None
        #: The gate let this request in as a new call while the server still took calls: the run
        #: it starts is not refused for a shutdown begun since (nginx could no longer retry it).
        self.admitted = admitted
        #: The handler has registered the run this admitted call starts (the drain waits for it).
        self.started = False
        self._on_start = on_start
        self._scopes: list[anyio.CancelScope] = []

    def start(self) -> None:
        """The handler has registered this call's run: whoever waits for it to do so is told."""
        if not self.started:
            self.started = True
            if self._on_start is not None:
                self._on_start(self)

    @property
    def aborted(self) -> bool:
        return self.reason is not None

    def abort(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        for scope in self._scopes:
            scope.cancel()

    @contextmanager
    def guard(self) -> Iterator[anyio.CancelScope]:
        """A cancel scope that an abort of this exchange cancels (at once if it already was)."""
        with anyio.CancelScope() as scope:
            if self.aborted:
                scope.cancel()
            self._scopes.append(scope)
            try:
                yield scope
            finally:
                self._scopes.remove(scope)


#: The exchange of the HTTP request a tool handler serves; None over stdio and in-process.
current_exchange: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("qwen_ci_exchange", default=None)
