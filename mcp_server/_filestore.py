"""Run records in a directory that several replicas share, so any replica can answer any run handle.

Behind a load balancer the call that starts a run and the ``qwen_code_interpreter_result`` calls that
collect it may reach different replicas. With ``--run-store-dir`` pointing at the same directory in
every replica (a shared volume), the replica that runs the call writes its record there - when it
starts, at each stage and once at the end, with the finished result - and any replica reads it.
One JSON file per run, replaced atomically (``os.replace``), so a reader never sees half a record.
Nothing else is needed: no extra service, no new dependency. Readers look for changes every
``poll_interval`` seconds, so a result collected through another replica arrives up to that late.

A run lives in the process that started it: if that replica dies, its record stays ``running``.
A record that has not changed for ``stale_after`` seconds while ``running`` (longer than any call
can last: the server's total timeout plus a margin) is reported as lost instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from ._runs import DEFAULT_RESULT_TTL, RunRecord

__all__ = ["DEFAULT_POLL_INTERVAL", "RUN_STORE_DIR_ENV", "FileRunStore", "lost_run_result"]

RUN_STORE_DIR_ENV = "QWEN_CI_MCP_RUN_STORE_DIR"

#: Seconds between two looks at a record another replica is writing.
DEFAULT_POLL_INTERVAL = 0.25
#: Seconds between two sweeps of expired records.
_SWEEP_INTERVAL = 30.0
#: Run ids are made by ``new_run_id``: nothing else may become a file name.
_RUN_ID = re.compile(r"run_[A-Za-z0-9_-]{8,64}")


def lost_run_result(seconds: float) -> dict[str, Any]:
    """The tool result (wire form) for a run whose replica stopped before it finished."""
    text = (
        f"The server replica running this task stopped before it finished (no news for {seconds:.0f} s), "
        "so its result is lost. Calling the tool again with the task starts a new run, billed again."
    )
    return {"content": [{"type": "text", "text": text}], "isError": True}


class FileRunStore:
    """A :class:`~mcp_server._runs.RunStore` in a directory shared by replicas."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        ttl: float = DEFAULT_RESULT_TTL,
        stale_after: float = math.inf,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        probe = self.directory / f".probe-{os.getpid()}"
        try:  # fail at start, not at the first call, when the directory cannot be written
            self.directory.mkdir(parents=True, exist_ok=True)
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ValueError(f"the run store directory {self.directory} is not writable: {exc.strerror}.") from None
        self.ttl = ttl
        self.stale_after = stale_after
        self.poll_interval = poll_interval
        self._clock = clock
        self._swept = 0.0

    def _path(self, run_id: str) -> Path | None:
        return self.directory / f"{run_id}.json" if _RUN_ID.fullmatch(run_id) else None

    async def put(self, record: RunRecord) -> None:
        path = self._path(record.run_id)
        if path is None:
            raise ValueError(f"not a run id: {record.run_id!r}")
        entry = {**dataclasses.asdict(record), "written_at": self._clock()}
        data = json.dumps(entry, separators=(",", ":")).encode()
        await anyio.to_thread.run_sync(self._write, path, data)
        self._sweep()

    def _write(self, path: Path, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def get(self, run_id: str) -> RunRecord | None:
        path = self._path(run_id)
        if path is None:
            return None
        try:
            entry = json.loads(await anyio.Path(path).read_bytes())
        except (OSError, ValueError):
            return None
        written_at = float(entry.pop("written_at", 0.0))
        record = RunRecord(**entry)
        now = self._clock()
        if record.finished_at is not None and now - record.finished_at >= self.ttl:
            return None
        if record.state == "running" and now - written_at >= self.stale_after:
            return record.advanced(
                state="finished",
                stage="lost",
                message="lost",
                result=lost_run_result(now - written_at),
                finished_at=now,
            )
        return record

    async def wait(self, run_id: str, after_version: int, timeout: float) -> RunRecord | None:
        deadline = anyio.current_time() + timeout if math.isfinite(timeout) else math.inf
        while True:
            record = await self.get(run_id)
            if record is None or record.version > after_version or record.state == "finished":
                return record
            left = deadline - anyio.current_time()
            if left <= 0:
                return record
            await anyio.sleep(min(self.poll_interval, left))

    def _sweep(self) -> None:
        """Delete expired results, at most every ``_SWEEP_INTERVAL`` seconds (any replica may)."""
        now = self._clock()
        if now - self._swept < _SWEEP_INTERVAL:
            return
        self._swept = now
        for path in self.directory.glob("run_*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                entry = json.loads(path.read_bytes())
                ended = entry.get("finished_at")
                stale = entry.get("state") == "running" and now - float(entry["written_at"]) >= max(
                    self.stale_after, self.ttl
                )
                if (ended is not None and now - float(ended) >= self.ttl) or stale:
                    path.unlink()
