"""Run handles: where a call's state and result live while nobody is waiting for them.

A run is one upstream call. The server writes a :class:`RunRecord` when the run starts, each time
its stage changes, and once when it ends (with the finished tool result in its wire form). Both
tools read runs only through a :class:`RunStore`, so another store (shared by several replicas
behind a load balancer) can replace :class:`MemoryRunStore` without touching the tools.

Records are plain, immutable and JSON-able: a shared store can serialise them as they are.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import anyio

__all__ = ["DEFAULT_MAX_RUNS", "DEFAULT_RESULT_TTL", "MemoryRunStore", "RunRecord", "RunStore", "new_run_id"]

#: Seconds a finished run's result is kept for ``qwen_code_interpreter_result``.
DEFAULT_RESULT_TTL = 600.0
#: Runs kept at once (running or finished); beyond it the oldest finished ones go first.
DEFAULT_MAX_RUNS = 1000


def new_run_id() -> str:
    """An unguessable handle: knowing it is what lets a caller read the result."""
    return "run_" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class RunRecord:
    """What is known about one run. ``version`` grows with every change, so waiters see each one."""

    run_id: str
    started_at: float  #: wall-clock seconds (``time.time()``) when the run was accepted
    state: Literal["running", "finished"] = "running"
    stage: str = "starting"
    message: str = "starting"
    version: int = 0
    #: The finished tool result in its wire form (``CallToolResult`` dumped by alias), once finished.
    result: dict[str, Any] | None = None
    finished_at: float | None = None

    def advanced(self, **changes: Any) -> RunRecord:
        return replace(self, version=self.version + 1, **changes)


class RunStore(Protocol):
    """Where run records live. All methods are safe to call from concurrent tasks."""

    async def put(self, record: RunRecord) -> None:
        """Store *record*, replacing any older version of the same run."""

    async def get(self, run_id: str) -> RunRecord | None:
        """The run's newest record, or None when the id is unknown or its result has expired."""

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        """The run's newest record once its version exceeds *after_version*, or after *timeout*
        seconds (then the newest record as it is). None when unknown or expired."""


@dataclass
class _Entry:
    record: RunRecord
    changed: anyio.Event = field(default_factory=anyio.Event)


class MemoryRunStore:
    """Records in this process: results kept *ttl* seconds after the run ends, at most *max_runs*."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_RESULT_TTL,
        max_runs: int = DEFAULT_MAX_RUNS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self.max_runs = max_runs
        self._clock = clock
        self._entries: dict[str, _Entry] = {}  # insertion order = start order

    def __len__(self) -> int:
        self._prune()
        return len(self._entries)

    async def put(self, record: RunRecord) -> None:
        entry = self._entries.get(record.run_id)
        if entry is None:
            self._prune()
            self._entries[record.run_id] = _Entry(record)
            self._evict()
            return
        entry.record = record
        changed, entry.changed = entry.changed, anyio.Event()
        changed.set()

    async def get(self, run_id: str) -> RunRecord | None:
        self._prune()
        entry = self._entries.get(run_id)
        return entry.record if entry is not None else None

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        self._prune()
        entry = self._entries.get(run_id)
        if entry is None:
            return None
        if entry.record.version <= after_version and timeout > 0:
            with anyio.move_on_after(timeout if math.isfinite(timeout) else None):
                await entry.changed.wait()
        return entry.record

    def _expired(self, record: RunRecord, now: float) -> bool:
        return record.finished_at is not None and now - record.finished_at >= self.ttl

    def _prune(self) -> None:
        now = self._clock()
        for run_id in [k for k, e in self._entries.items() if self._expired(e.record, now)]:
            del self._entries[run_id]

    def _evict(self) -> None:
        # Oldest finished runs first; running ones are never dropped (the runner bounds them).
        excess = len(self._entries) - self.max_runs
        if excess <= 0:
            return
        finished = [k for k, e in self._entries.items() if e.record.state == "finished"]
        for run_id in finished[:excess]:
            del self._entries[run_id]
