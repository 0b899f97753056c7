"""HTTP exchanges in flight, so that a client's cancel reaches its call in every client mode.

Over stateless streamable HTTP each POST stands alone: a handshake-era client's
``notifications/cancelled`` arrives as a separate POST that the SDK acknowledges (202) and drops,
and a client that goes away is noticed only when something is written to it. The HTTP gate (see
``_gate``) therefore opens an :class:`Exchange` for every JSON-RPC request it passes on, and:

- a ``notifications/cancelled`` POST aborts the one exchange with that request id from the same
  client (the digest of its ``Authorization`` header and of the session id the gate minted for its
  handshake); when several match, none is touched, since one client must never cancel another's
  call;
- a client that disconnects aborts its own exchange at once.

A tool handler finds its exchange through :data:`current_exchange` (the SDK runs handlers in the
request's context) and waits inside :meth:`Exchange.guard`, whose cancel scope an abort cancels.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ["Exchange", "Exchanges", "current_exchange", "principal_of"]


def principal_of(identity: bytes) -> str:
    """Who sent a request, as far as cancelling goes: a digest of what identifies the client."""
    return hashlib.sha256(identity).hexdigest()


def _key(principal: str, request_id: object) -> tuple[str, str]:
    # The SDK correlates a stringified id with a numeric one ("1" cancels 1): so does this.
    return principal, str(request_id)


class Exchange:
    """One JSON-RPC request over HTTP, from its body to the end of its response."""

    def __init__(self, principal: str, request_id: object) -> None:
        self.principal = principal
        self.request_id = request_id
        self.reason: str | None = None
        self._scopes: list[anyio.CancelScope] = []

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


class Exchanges:
    """The exchanges in flight, by credential and request id, and a way to wait until none are."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[Exchange]] = {}
        self._count = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._last_change = 0.0

    def __len__(self) -> int:
        return self._count

    @contextmanager
    def open(self, principal: str, request_id: object) -> Iterator[Exchange]:
        exchange = Exchange(principal, request_id)
        key = _key(principal, request_id)
        self._by_key.setdefault(key, []).append(exchange)
        self._count += 1
        self._last_change = anyio.current_time()
        if self._count == 1:
            self._idle = anyio.Event()
        try:
            yield exchange
        finally:
            same = self._by_key[key]
            same.remove(exchange)
            if not same:
                del self._by_key[key]
            self._count -= 1
            self._last_change = anyio.current_time()
            if self._count == 0:
                self._idle.set()

    def cancel(self, principal: str, request_id: object, reason: str) -> bool:
        """Abort the one exchange with this id from this credential; False when none or several."""
        same = self._by_key.get(_key(principal, request_id), [])
        if len(same) != 1:
            return False
        same[0].abort(reason)
        return True

    async def wait_quiet(self, quiet: float) -> None:
        """Return once no exchange has been in flight for *quiet* seconds.

        A client often follows an answer with another request at once (the Python client lists
        the tools to check a result against its schema): a server about to exit waits for those.
        """
        while True:
            await self._idle.wait()
            left = self._last_change + quiet - anyio.current_time()
            if left <= 0 and self._count == 0:
                return
            await anyio.sleep(max(left, 0.0))
