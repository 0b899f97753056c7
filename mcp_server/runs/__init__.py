"""Runs: a call's life (``runner``), its records and where they are kept (``records``, ``memory``,
``redis_store``), this replica's link to a shared store (``link``), the one deadline of a shutdown
(``deadline``), its progress reports (``progress``) and its result (``results``).

``--run-store`` picks the store replicas share: ``memory`` (none: one process) or a Redis URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .memory import MemoryRunStore
from .records import (
    DEFAULT_RESULT_TTL,
    REDIS_SCHEMES,
    RUN_STORE_ENV,
    RunRecord,
    RunStore,
    StoreUnavailable,
    new_run_id,
    shown_url,
)

__all__ = [
    "DEFAULT_RESULT_TTL",
    "MEMORY",
    "RUN_STORE_ENV",
    "MemoryRunStore",
    "RunRecord",
    "RunStore",
    "StoreUnavailable",
    "new_run_id",
    "open_run_store",
    "shown_url",
]

#: The ``--run-store`` value for no shared store (the default).
MEMORY = "memory"


def open_run_store(spec: RunStore | str | None, *, ttl: float, stale_after: float) -> RunStore | None:
    """The shared store for *spec*: None for ``memory`` (or nothing), a Redis store for a Redis URL,
    a store object as given. Raises ValueError for anything else (nothing is connected yet)."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == MEMORY):
        return None
    if not isinstance(spec, str):
        return spec
    if urlsplit(spec).scheme not in REDIS_SCHEMES:
        raise ValueError(
            f"--run-store must be 'memory' or a Redis URL (redis://HOST:PORT/DB or rediss://...), got {shown_url(spec)!r}."
        )
    try:
        from .redis_store import RedisRunStore
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "redis":
            raise
        raise ValueError(
            "--run-store redis://... needs the redis client library, part of the [mcp] extra: "
            "pip install 'qwen-ci-tool[mcp]'"
        ) from None
    return RedisRunStore(spec, ttl=ttl, stale_after=stale_after)
