"""The real server as a subprocess, as clients meet it: `python -m mcp_server ...` with a minimal env."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks._common import python_server
from qwen_ci_tool.cli.common import TRIAL_PACE_ENV

from ..line_queue import line_queue
from .conftest import REPO

#: Passed on from the suite's environment so that the server process has it too: under a mutation run (mutmut),
#: the mutant to activate; the pacing of `--emulator` trials (tests/conftest.py: none).
_PASSED_ON = ("MUTANT_UNDER_TEST", TRIAL_PACE_ENV)


def server_env(**extra: str) -> dict[str, str]:
    """What an MCP client passes: a minimal environment plus the config's env block."""
    passed = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **passed, **extra}


class ServerProcess:
    """A running ``qwen-ci-mcp --transport streamable-http``; ``log`` collects its stderr lines."""

    def __init__(self, proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        self.proc = proc
        self._lines = lines
        self.log: list[str] = []
        self.url = self.wait_for(r"listening on (http://\S+)").group(1)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first (new) stderr line matching *pattern*; bounded: queue.Empty after *timeout*."""
        for line in self.log:
            if match := re.search(pattern, line):
                return match
        while True:
            line = self._lines.get(timeout=timeout)
            assert line is not None, "the server exited:\n" + "".join(self.log[-20:])
            self.log.append(line)
            if match := re.search(pattern, line):
                return match

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT`` without the MCP path."""
        return self.url.rsplit("/", 1)[0]

    @property
    def port(self) -> int:
        return int(self.root.rsplit(":", 1)[1])

    def output(self) -> str:
        """Everything the server has written to stderr so far."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._lines.put(None)  # the end stays visible to wait()
                break
            self.log.append(line)
        return "".join(self.log)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, whatever it was doing."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def wait(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout=timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.log.append(line)
        return code


@contextmanager
def server_process(args: list[str], env: dict[str, str]) -> Iterator[ServerProcess]:
    """``python *args`` (a server on HTTP) with exactly *env*, stopped at the end."""
    proc = python_server(args, env)
    try:
        yield ServerProcess(proc, line_queue(proc.stderr))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@contextmanager
def http_server_process(*args: str, **env: str) -> Iterator[ServerProcess]:
    """``python -m mcp_server --transport streamable-http --port 0 *args`` with *env*, stopped at the end."""
    with server_process(
        ["-m", "mcp_server", "--transport", "streamable-http", "--port", "0", *args], server_env(**env)
    ) as server:
        yield server
