"""Progress reports of one waiting call: stage reports, and a heartbeat while the service is silent."""

from __future__ import annotations

import logging

import anyio
from mcp.server.mcpserver import Context

__all__ = ["HEARTBEAT_INTERVAL", "Progress"]

logger = logging.getLogger("mcp_server")

#: Seconds without a progress report before a heartbeat is sent. Well under 10 s, so that clients
#: that reset a 60 s request timeout on progress (and users watching) always see a live call.
HEARTBEAT_INTERVAL = 5.0


class Progress:
    """Progress reports with a strictly increasing counter, from the call and from its heartbeat.

    Every report (a stage or a heartbeat) restarts the heartbeat's interval. Reporting is
    best-effort: a client that cannot take a notification does not fail the call.
    ``report_progress`` is a no-op when the client sent no progress token.
    """

    def __init__(self, ctx: Context, interval: float) -> None:
        self._ctx = ctx
        self._interval = interval
        self._count = 0
        self._lock = anyio.Lock(fast_acquire=True)  # uncontended (nearly always): no trip through the event loop
        self.stage = "starting"
        self._started = self._last = anyio.current_time()

    async def report(self, stage: str, message: str | None = None) -> None:
        # The lock keeps the counter and the order of notifications in step across both tasks.
        async with self._lock:
            self.stage = stage
            self._count += 1
            self._last = anyio.current_time()
            try:
                await self._ctx.report_progress(self._count, None, message or stage)
            except Exception:  # the call itself goes on; the client will see the result
                logger.debug("progress notification not delivered", exc_info=True)

    def due(self) -> float:
        """When (``anyio.current_time()``) a heartbeat is due unless something is reported before."""
        return self._last + self._interval

    async def beat_if_due(self) -> None:
        """Send the heartbeat if nothing was reported for an interval."""
        now = anyio.current_time()
        if now - self._last >= self._interval:
            await self.report(self.stage, f"{self.stage} (still working, {now - self._started:.0f} s elapsed)")

    async def wait(self, event: anyio.Event, deadline: float) -> None:
        """Wait for *event* until *deadline* (``anyio.current_time()``), beating whenever due: the
        heartbeat of a wait with nothing else to do, without a task of its own."""
        while not event.is_set() and anyio.current_time() < deadline:
            with anyio.move_on_after(min(deadline, self.due()) - anyio.current_time()):
                await event.wait()
            if not event.is_set():
                await self.beat_if_due()

    async def heartbeat(self) -> None:
        """Beat whenever due, for as long as it runs (in a task of its own, beside a wait)."""
        while True:
            await anyio.sleep(max(0.0, self.due() - anyio.current_time()))
            await self.beat_if_due()
