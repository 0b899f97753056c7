"""Run records and the store protocol: what a run is, as the tools and the replicas see it.

A run is one upstream call. Its replica writes a :class:`RunRecord` when the run is accepted, each
time its stage changes, and once when it ends (with the finished tool result in its wire form).
A :class:`RunStore` keeps records: ``runs.memory`` in this process, ``runs.redis_store`` shared by
replicas (which also carries cancels between them). Records are plain, immutable and JSON-able.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_MAX_RUNS",
    "DEFAULT_RESULT_TTL",
    "REDIS_SCHEMES",
    "RUN_STORE_ENV",
    "RunRecord",
    "RunStore",
    "StoreUnavailable",
    "new_run_id",
    "shown_url",
]

#: The environment variable for ``--run-store``.
RUN_STORE_ENV = "QWEN_CI_MCP_RUN_STORE"
#: URL schemes of a Redis run store.
REDIS_SCHEMES = ("redis", "rediss")

#: Seconds a finished run's result is kept for ``qwen_code_interpreter_result``.
DEFAULT_RESULT_TTL = 600.0
#: Runs kept at once (running or finished); beyond it the oldest finished ones go first.
DEFAULT_MAX_RUNS = 1000


def shown_url(url: str) -> str:
    """*url* without its password, for logs and messages (the host and port as given, even unusable)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even a URL (an unclosed "[" of an IPv6 host): hide whatever precedes an "@"
        return re.sub(r"//[^/]*@", "//***@", url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{host}"))


def new_run_id() -> str:
    """An unguessable handle: knowing it is what lets a caller read the result."""
    return "run_" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class RunRecord:
    """What is known about one run. ``version`` grows with every change, so waiters see each one."""

    run_id: str
    started_at: float  #: wall-clock seconds (``time.time()``) when the run was accepted
    #: The client that started the run (its token name): only that client may read it.
    owner: str = "local"
    state: Literal["running", "finished"] = "running"
    stage: str = "starting"
    message: str = "starting"
    version: int = 0
    #: The finished tool result in its wire form (``CallToolResult`` dumped by alias), once finished.
    result: dict[str, Any] | None = None
    finished_at: float | None = None

    def advanced(self, **changes: Any) -> RunRecord:
        return replace(self, version=self.version + 1, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class StoreUnavailable(Exception):
    """The run store cannot be reached (or answered with an error); the message says what happened."""


class RunStore(Protocol):
    """Where run records live. All methods are safe to call from concurrent tasks; a shared store
    raises :class:`StoreUnavailable` when it cannot be reached, and never blocks for long."""

    async def put(self, record: RunRecord) -> None:
        """Store *record*, replacing any older version of the same run."""

    async def get(self, run_id: str) -> RunRecord | None:
        """The run's newest record, or None when the id is unknown or its result has expired."""

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        """The run's newest record once its version exceeds *after_version*, or after *timeout*
        seconds (then the newest record as it is). None when unknown or expired."""

    async def publish_cancel(self, principal: str, request_id: str) -> None:
        """Ask every replica to cancel the HTTP request *request_id* of *principal* (no-op alone)."""

    def cancels(self, on_listening: Callable[[], None]) -> AsyncIterator[tuple[str, str]]:
        """The ``(principal, request_id)`` cancels published by any replica, as they come (never,
        alone); *on_listening* is called once the store listens for them."""

    async def aclose(self) -> None:
        """Release connections."""
