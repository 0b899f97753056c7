"""This replica's link to the run store it shares with the others (``--run-store redis://...``).

It keeps the store's health: a failed operation is logged (the first at ERROR, with the reason;
the next ones at DEBUG until one succeeds) and counted in ``/metrics``
(``qwen_ci_run_store_errors{operation}``, ``qwen_ci_run_store_up``); runs go on in this process
whatever the store does. It forwards a cancel that matched no request here to the other replicas,
and listens for theirs for as long as the server runs, again each time the store comes back.
Without a shared store (``memory``) there is nothing to forward or listen to.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import anyio

from .._ops import Ops
from .records import RunStore, StoreUnavailable

__all__ = ["StoreLink"]

logger = logging.getLogger("mcp_server")

#: Seconds between two attempts to listen for cancels while the shared store is unavailable.
_RELISTEN_DELAY = 1.0


class StoreLink:
    """The shared *store* (None alone) as this replica uses it, with its health in *ops*' metrics."""

    def __init__(self, store: RunStore | None, ops: Ops) -> None:
        self.store = store
        self.ops = ops
        #: Whether the last operation on the store failed.
        self.down = False

    def ok(self) -> None:
        if self.down:
            self.down = False
            logger.info("run store reachable again")
        self.ops.metrics.run_store_up.set(1)

    def failed(self, operation: str, exc: StoreUnavailable) -> None:
        self.ops.metrics.run_store_errors.labels(operation).inc()
        self.ops.metrics.run_store_up.set(0)
        level = logging.DEBUG if self.down else logging.ERROR
        self.down = True
        logger.log(level, "run store unavailable (%s): %s; runs go on in this process", operation, exc)

    async def forward_cancel(self, principal: str, request_id: str) -> None:
        """Send a cancel that matched no request here to the other replicas."""
        if self.store is None:
            return
        try:
            await self.store.publish_cancel(principal, request_id)
            self.ok()
        except StoreUnavailable as exc:
            self.failed("cancel", exc)

    async def listen_for_cancels(self, cancel: Callable[[str, str], Any]) -> None:
        """Call *cancel* for every cancel another replica forwards, for as long as the server runs;
        when the store fails, listen again once it is back (each start is logged, and marks the
        store up again)."""
        if self.store is None:
            return
        failed = False

        def listening() -> None:
            self.ok()  # listening is an operation on the store too: one that succeeds says it is back
            logger.info("listening%s for cancels forwarded by other replicas", " again" if failed else "")

        while True:
            try:
                async with contextlib.aclosing(self.store.cancels(listening)) as cancels:  # type: ignore[type-var]
                    async for principal, request_id in cancels:
                        cancel(principal, request_id)
            except StoreUnavailable as exc:
                failed = True
                self.failed("listen", exc)
            await anyio.sleep(_RELISTEN_DELAY)
