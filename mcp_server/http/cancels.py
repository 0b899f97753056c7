"""Cancel routing over HTTP: a client's cancel reaches its call, on this replica or another one.

Over stateless streamable HTTP each POST stands alone: a handshake-era client's
``notifications/cancelled`` arrives as a separate POST that the SDK acknowledges (202) and drops,
and a client that goes away is noticed only when something is written to it. The HTTP gate
(``http.gate``) therefore opens an :class:`~.._requests.Exchange` for every JSON-RPC request it
passes on, and:

- a ``notifications/cancelled`` POST aborts the one exchange with that request id from the same
  client (:func:`principal_of`: the digest of its ``Authorization`` header and of the session id
  the gate minted for its handshake); when several match, none is touched, since one client must
  never cancel another's call;
- when none matches here, the cancel is published through the shared run store, and the replica
  serving that request aborts it (:meth:`Exchanges.cancel` on each replica);
- a client that disconnects aborts its own exchange at once.

It also holds the reads of request bodies still in progress, which :meth:`Exchanges.close` ends
when the server exits, and :meth:`Exchanges.abort_all` aborts every exchange when a second signal
makes it exit at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import anyio

from .._requests import CancelScopes, Exchange

__all__ = ["Exchanges", "principal_of"]


def principal_of(identity: bytes) -> str:
    """Who sent a request, as far as cancelling goes: a digest of what identifies the client."""
    return hashlib.sha256(identity).hexdigest()


def _key(principal: str, request_id: object) -> tuple[str, str]:
    # The SDK correlates a stringified id with a numeric one ("1" cancels 1): so does this.
    return principal, str(request_id)


class Exchanges:
    """The exchanges in flight, by credential and request id, and a way to wait until none are."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[Exchange]] = {}
        self._count = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._last_change = 0.0
        #: New calls the gate let in whose handler has not registered their run yet, and an event
        #: set whenever there are none.
        self._unstarted: set[Exchange] = set()
        self._all_started = anyio.Event()
        self._all_started.set()
        #: The reads of request bodies not complete yet (cancelled when the server is about to exit).
        self._reads = CancelScopes()

    def __len__(self) -> int:
        return self._count

    def _settled(self, exchange: Exchange) -> None:
        self._unstarted.discard(exchange)
        if not self._unstarted:
            self._all_started.set()

    async def admitted_started(self) -> None:
        """Return once every new call the gate let in has registered its run (or ended without one)."""
        while self._unstarted:
            await self._all_started.wait()

    @contextmanager
    def open(self, principal: str, request_id: object, *, admitted: bool = False) -> Iterator[Exchange]:
        """The exchange of one request for as long as it is served; *admitted* for a new call the
        gate let in (the drain waits until its handler has registered its run)."""
        exchange = Exchange(admitted=admitted, on_start=self._settled)
        if admitted:
            if not self._unstarted:
                self._all_started = anyio.Event()
            self._unstarted.add(exchange)
        key = _key(principal, request_id)
        self._by_key.setdefault(key, []).append(exchange)
        self._count += 1
        self._last_change = anyio.current_time()
        if self._count == 1:
            self._idle = anyio.Event()
        try:
            yield exchange
        finally:
            self._settled(exchange)
            same = self._by_key[key]
            same.remove(exchange)
            if not same:
                del self._by_key[key]
            self._count -= 1
            self._last_change = anyio.current_time()
            if self._count == 0:
                self._idle.set()

    def reading(self) -> AbstractContextManager[anyio.CancelScope]:
        """A cancel scope for reading one request's body, cancelled by :meth:`close` (at once after it)."""
        return self._reads.open()

    def close(self) -> None:
        """The server exits: stop reading request bodies (a client trickling one is answered at once)."""
        self._reads.cancel()

    def abort_all(self, reason: str) -> None:
        """The server exits at once (for *reason*): stop reading request bodies, abort every exchange
        (a call in flight is answered with *reason*)."""
        self.close()
        for same in self._by_key.values():
            for exchange in same:
                exchange.abort(reason)

    def cancel(self, principal: str, request_id: object, reason: str) -> int:
        """Abort the one exchange with this id from this principal; how many matched (only one is aborted)."""
        same = self._by_key.get(_key(principal, request_id), [])
        if len(same) == 1:
            same[0].abort(reason)
        return len(same)

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
