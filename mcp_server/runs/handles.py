"""Runs answered with a handle whose result no poll has collected yet.

Without a shared store, this process holds the only copy of such a result: a server that exits
before the client's poll loses a run that was billed. The HTTP drain (see ``Runner.drain``) waits,
within the runs' part of the shutdown grace, until each one is collected.
"""

from __future__ import annotations

import logging

import anyio

from .deadline import Deadline
from .memory import MemoryRunStore

__all__ = ["Handles"]

logger = logging.getLogger("mcp_server")


class Handles:
    """The run ids answered with a handle and not collected since, of the runs kept in *local*."""

    def __init__(self, local: MemoryRunStore) -> None:
        self.local = local
        self.uncollected: set[str] = set()
        self._collected = anyio.Event()

    async def issued(self, run_id: str) -> None:
        """A call was answered with *run_id*'s handle. (Ids whose records expired or were evicted
        are let go as more come.)"""
        self.uncollected.add(run_id)
        if len(self.uncollected) > self.local.max_runs:
            await self._forget_gone()

    def collected(self, run_id: str) -> None:
        """A poll returned *run_id*'s final result."""
        if run_id in self.uncollected:
            self.uncollected.discard(run_id)
            collected, self._collected = self._collected, anyio.Event()
            collected.set()

    async def wait(self, deadline: Deadline) -> None:
        """Return once every handle still kept is collected, or when the runs' part of the grace ends."""
        await self._forget_gone()
        if not self.uncollected:
            return
        logger.info(
            "waiting up to %g s for %d results answered with a handle to be collected",
            deadline.runs_left(),
            len(self.uncollected),
        )
        with anyio.move_on_after(deadline.runs_left()):
            while self.uncollected:
                await self._collected.wait()
        if self.uncollected:
            logger.warning(
                "%d results answered with a handle were not collected within the grace and are lost with this "
                "process; a shared run store (--run-store redis://...) keeps them for the other replicas",
                len(self.uncollected),
            )

    async def _forget_gone(self) -> None:
        self.uncollected = {r for r in self.uncollected if await self.local.get(r) is not None}
