"""One installer at a time on this machine: test setup that installs something (apt-get, npm into a
cache directory) holds a lock file while it checks and installs, so pytest-xdist workers and other
checkouts sharing the cache never install at once or see a half-finished install; :func:`setup_problem`
runs one such command and says why it failed."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_root() -> Path:
    """Where the test setup keeps what it installs (``$XDG_CACHE_HOME/qwen-ci-tool``)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "qwen-ci-tool"


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Held by one process of this machine at a time (``flock`` on ``<cache>/NAME.lock``); released
    when the block ends or the holder dies. The wait is bounded by the test's own timeout."""
    path = cache_root() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def setup_problem(command: list[str], failed: str, timeout: float, cwd: Path | None = None) -> str | None:
    """Run one command of the test setup (an npm install, an npx fetch); None when it worked, else
    why not: *failed*, then the time it ran out of or the last line the command printed."""
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return f"{failed} within {timeout} s"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{failed}: {tail[0]}"
    return None
