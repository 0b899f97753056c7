"""The run store of one process (``--run-store memory``, the default)."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio

from .records import DEFAULT_MAX_RUNS, DEFAULT_RESULT_TTL, RunRecord

__all__ = ["MemoryRunStore"]


def _now() -> float:
    """Wall-clock seconds: when a run ended, and so when its result expires."""
    return time.time()


@dataclass
class _Entry:
    record: RunRecord
    #: Set at the next change; made by the first waiter (a record nobody waits for needs none).
    changed: anyio.Event | None = None


class MemoryRunStore:
    """Records in this process: results kept *ttl* seconds after the run ends, at most *max_runs*."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_RESULT_TTL,
        max_runs: int = DEFAULT_MAX_RUNS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_runs = max_runs
        self._clock = clock if clock is not None else lambda: _now()
        self._entries: dict[str, _Entry] = {}  # insertion order = start order
        #: ``(finished_at, run_id)`` of every finished record put: the soonest to expire first.
        self._finished: list[tuple[float, str]] = []

    def __len__(self) -> int:
        self._prune()
        return len(self._entries)

    async def put(self, record: RunRecord) -> None:
        if record.finished_at is not None:
            heapq.heappush(self._finished, (record.finished_at, record.run_id))
        entry = self._entries.get(record.run_id)
        if entry is None:
            self._prune()
            self._entries[record.run_id] = _Entry(record)
            self._evict()
            return
        entry.record = record
        if entry.changed is not None:
            entry.changed.set()
            entry.changed = None

    async def get(self, run_id: str) -> RunRecord | None:
        entry = self._live(run_id)
        return entry.record if entry is not None else None

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        entry = self._live(run_id)
        if entry is None:
            return None
        if entry.record.version <= after_version and timeout > 0:
            if entry.changed is None:
                entry.changed = anyio.Event()
            changed = entry.changed
            with anyio.move_on_after(timeout if math.isfinite(timeout) else None):
                await changed.wait()
        return entry.record

    def _expired(self, record: RunRecord, now: float) -> bool:
        return record.finished_at is not None and now - record.finished_at >= self.ttl

    def _live(self, run_id: str) -> _Entry | None:
        """The entry of *run_id* unless it has expired (then it goes). Reads look at their own entry
        only; the whole table is swept when a new run is added (which is what grows it)."""
        entry = self._entries.get(run_id)
        if entry is not None and self._expired(entry.record, self._clock()):
            del self._entries[run_id]
            return None
        return entry

    def _prune(self) -> None:
        # Only records whose finish time has passed the TTL are looked at, soonest first (the
        # heap may name a run already gone or put again since: its entry is checked itself).
        now = self._clock()
        while self._finished and now - self._finished[0][0] >= self.ttl:
            _, run_id = heapq.heappop(self._finished)
            entry = self._entries.get(run_id)
            if entry is not None and self._expired(entry.record, now):
                del self._entries[run_id]

    def _evict(self) -> None:
        # Oldest finished runs first; running ones are never dropped (the runner bounds them).
        excess = len(self._entries) - self.max_runs
        if excess <= 0:
            return
        oldest: list[str] = []
        for run_id, entry in self._entries.items():  # start order: stops at the first *excess* finished
            if entry.record.state == "finished":
                oldest.append(run_id)
                if len(oldest) == excess:
                    break
        for run_id in oldest:
            del self._entries[run_id]

    async def publish_cancel(self, principal: str, request_id: str) -> None:
        return None  # one process: a cancel that found no request here has nowhere else to go

    async def cancels(self, on_listening: Callable[[], None]) -> AsyncIterator[tuple[str, str]]:
        await anyio.sleep_forever()
        yield ("", "")  # pragma: no cover - never reached; makes this an async generator

    async def aclose(self) -> None:
        return None
