"""A real Redis for the run-store tests: Debian's ``redis-server``, installed when missing, started
on a free loopback port (one per test session, or one of a test's own when it stops Redis)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .debian import program_or_install
from .line_queue import line_queue

__all__ = ["redis_binary", "redis_process", "redis_url"]

CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The redis-server executable; installed from Debian when missing (the tests skip, saying why,
    only where it cannot be installed)."""
    path, reason = program_or_install("redis-server", "redis-server", *CANDIDATES)
    if path is None:
        pytest.skip(f"redis-server is not installed and could not be installed ({reason})")
    return path


@contextmanager
def redis_process(binary: str, workdir: Path, port: int | None = None) -> Iterator[str]:
    """A redis-server on 127.0.0.1 (a free port unless given), nothing saved to disk; yields its URL."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(workdir), "--protected-mode", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = line_queue(proc.stdout)
    try:
        while True:
            line = lines.get(timeout=30)
            assert line is not None, "redis-server exited at start"
            if "Ready to accept connections" in line:
                break
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for this test session."""
    with redis_process(redis_binary, tmp_path_factory.mktemp("redis")) as url:
        yield url
