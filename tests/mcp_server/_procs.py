"""``qwen-ci-mcp --transport streamable-http`` as a real subprocess, with its stderr collected."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import TracebackType

from .conftest import REPO


def server_env(**extra: str) -> dict[str, str]:
    """What an MCP client or a container passes: a minimal environment plus the given variables."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **extra}


class ServerProcess:
    """One HTTP server process on a free loopback port. ``url`` is its MCP endpoint once started."""

    def __init__(self, args: Sequence[str], env: dict[str, str], *, start_timeout: float = 30.0) -> None:
        self.args = ["--transport", "streamable-http", "--port", "0", *args]
        self.env = env
        self.start_timeout = start_timeout
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT`` without the MCP path."""
        return self.url.rsplit("/", 1)[0]

    @property
    def port(self) -> int:
        return int(self.root.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def start(self) -> ServerProcess:
        self.launch()
        self.await_listening()
        return self

    def launch(self) -> None:
        """Start the process without waiting for it to listen (to start several at once)."""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_server", *self.args],
            env=self.env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def await_listening(self) -> None:
        self.url = self.wait_for(r"listening on (http://\S+)", self.start_timeout).group(1)

    def _pump(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 10.0, start: int = 0) -> re.Match[str]:
        """The first stderr line (from line *start* on) matching *pattern*; fails after *timeout* s."""
        regex = re.compile(pattern)
        seen = start

        def found() -> re.Match[str] | None:
            nonlocal seen
            for line in self.lines[seen:]:
                if line == "":
                    raise AssertionError(f"the server exited before logging {pattern!r}:\n{self.stderr[-3000:]}")
                match = regex.search(line)
                if match:
                    return match
                seen += 1
            return None

        with self._changed:
            match = self._changed.wait_for(found, timeout)
        if match is None:
            raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.stderr[-3000:]}")
        return match

    def signal(self, signum: int) -> None:
        assert self._proc is not None
        self._proc.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self._proc is not None
        self._proc.wait(timeout=10)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
