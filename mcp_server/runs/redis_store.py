"""The run store replicas share (``--run-store redis://HOST:PORT/DB``), on the ``redis`` asyncio client.

- A record is one key, ``qwen_ci:run:<run_id>``, holding ``{"record": ..., "written_at": ...}``;
  every write also publishes the new version on the channel of the same name, so a replica waiting
  for the run (its result tool) gets it when it is written, not at a next look.
- A finished record expires ``ttl`` seconds after its run ended. A running one whose replica has
  written nothing for ``stale_after`` seconds (the replica died) reads as finished with an error
  saying the result is lost; it expires ``ttl`` seconds later.
- Cancels travel on the channel ``qwen_ci:cancel`` as ``[principal, request_id]``; every replica
  listens (:meth:`RedisRunStore.cancels`) and cancels the matching HTTP request it serves.

Every failure (Redis down, slow, or answering an error) is raised as
:class:`~.records.StoreUnavailable` within about two seconds; nothing waits on Redis longer.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .._texts import lost_run_text
from .records import DEFAULT_RESULT_TTL, RunRecord, StoreUnavailable, shown_url

__all__ = ["RedisRunStore"]

_PREFIX = "qwen_ci:"
_CANCEL_CHANNEL = _PREFIX + "cancel"
#: Seconds to connect, and to wait for any one answer, before Redis counts as unavailable.
_CONNECT_TIMEOUT = 1.0
_ANSWER_TIMEOUT = 2.0
#: Seconds one read of a subscription blocks (a wait is several of them, up to its timeout).
_LISTEN_SLICE = 1.0


def _unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}")


async def _close(pubsub: PubSub) -> None:
    """Close a subscription, even in a cancelled task, within the answer timeout."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(_ANSWER_TIMEOUT), contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()


class RedisRunStore:
    """A :class:`~.records.RunStore` in Redis, shared by every replica given the same URL."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_RESULT_TTL,
        stale_after: float = math.inf,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.stale_after = stale_after
        self._clock = clock
        try:
            self._redis = aioredis.Redis.from_url(
                url,
                socket_connect_timeout=_CONNECT_TIMEOUT,
                socket_timeout=_ANSWER_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
        except ValueError as exc:
            raise ValueError(f"unusable run store URL {shown_url(url)!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"RedisRunStore({shown_url(self.url)!r})"

    @staticmethod
    def _key(run_id: str) -> str:
        return f"{_PREFIX}run:{run_id}"

    def _expiry(self, record: RunRecord) -> int:
        keep = self.ttl if record.state == "finished" else self.stale_after + self.ttl
        return max(1, math.ceil(min(keep, 10 * 365 * 86400)))

    async def put(self, record: RunRecord) -> None:
        key = self._key(record.run_id)
        value = json.dumps({"record": record.to_json(), "written_at": self._clock()})
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, value, ex=self._expiry(record))
                pipe.publish(key, str(record.version))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None

    async def get(self, run_id: str) -> RunRecord | None:
        try:
            raw = await self._redis.get(self._key(run_id))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        if raw is None:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
            record = RunRecord.from_json(data["record"])
            written_at = float(data["written_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreUnavailable(f"Redis: unreadable record for {run_id!r}: {exc}") from None
        silent = self._clock() - written_at
        if record.state == "running" and silent > self.stale_after:
            return record.advanced(
                state="finished",
                stage="lost",
                message="lost",
                result={"content": [{"type": "text", "text": lost_run_text(silent)}], "isError": True},
                finished_at=written_at,
            )
        return record

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        pubsub = self._redis.pubsub()
        try:
            try:
                await pubsub.subscribe(self._key(run_id))  # before reading: no write can slip between
                record = await self.get(run_id)
                if record is None or record.version > after_version or timeout <= 0:
                    return record
                with anyio.move_on_after(timeout if math.isfinite(timeout) else None):
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=_LISTEN_SLICE)
                        if message is None:
                            continue
                        record = await self.get(run_id)
                        if record is None or record.version > after_version:
                            return record
                return await self.get(run_id)
            except (RedisError, OSError) as exc:
                raise _unavailable(exc) from None
        finally:
            await _close(pubsub)

    async def publish_cancel(self, principal: str, request_id: str) -> None:
        try:
            await self._redis.publish(_CANCEL_CHANNEL, json.dumps([principal, request_id]))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None

    async def cancels(self, on_listening: Callable[[], None]) -> AsyncIterator[tuple[str, str]]:
        pubsub = self._redis.pubsub()
        try:
            try:
                await pubsub.subscribe(_CANCEL_CHANNEL)
                on_listening()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=_LISTEN_SLICE)
                    if message is None:
                        continue
                    try:
                        principal, request_id = json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                    yield str(principal), str(request_id)
            except (RedisError, OSError) as exc:
                raise _unavailable(exc) from None
        finally:
            await _close(pubsub)

    async def aclose(self) -> None:
        with anyio.move_on_after(_ANSWER_TIMEOUT):
            with contextlib.suppress(RedisError, OSError):
                await self._redis.aclose()
