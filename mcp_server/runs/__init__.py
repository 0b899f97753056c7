"""Runs: a call's life (``runner``), its records and where they are kept (``records``, ``memory``,
``redis_store``), this replica's link to a shared store (``link``), the one deadline of a shutdown
(``deadline``), its progress reports (``progress``), its result (``results``) and the handles
answered but not collected yet (``handles``).

``--run-store`` picks the store replicas share: ``memory`` (none: one process) or a Redis URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from qwen_ci_tool import ConfigurationError

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
    a store object as given. Raises ConfigurationError for anything else (nothing is connected yet),
    its hint naming the setting as the face that set it spells it (``run_store``, ``--run-store``)."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == MEMORY):
        return None
    if not isinstance(spec, str):
        return spec
    try:
        redis_url = urlsplit(spec).scheme in REDIS_SCHEMES
    except ValueError:  # not even a URL (an unclosed "[")
        redis_url = False
    if not redis_url:
        raise ConfigurationError(f"Unknown run store {shown_url(spec)!r}.", hint=_RUN_STORE_HINT)
    try:
        from .redis_store import RedisRunStore
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "redis":
            raise
        raise ConfigurationError(
            "A Redis run store needs the redis client library, part of the [mcp] extra.",
            hint=f"pip install 'qwen-ci-tool[mcp]', or set {{run_store:{MEMORY}}}.",
        ) from None
    try:
        return RedisRunStore(spec, ttl=ttl, stale_after=stale_after)
    except ValueError as exc:
        raise ConfigurationError(str(exc), hint=_RUN_STORE_HINT) from None


_RUN_STORE_HINT = f"{{run_store}} must be '{MEMORY}' or a Redis URL (redis://HOST:PORT/DB or rediss://...)."
