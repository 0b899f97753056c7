"""Shared test configuration: no test may reach the internet; the emulator is local."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import time
from collections.abc import Iterator

import anyio
import pytest

from qwen_ci_tool import _client
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool.cli.common import TRIAL_PACE_ENV
from qwen_ci_tool.testing import Emulator

# anyio loads its parts on first use, from whichever thread uses them first, and as a pytest plugin
# its modules are rewritten by pytest with ast.parse, which CPython 3.11 cannot run in two threads at
# once (python/cpython#106905: "SystemError: AST constructor recursion depth mismatch", seen here in
# a full run). Load them all now, in the main thread.
for _name in dir(anyio):
    getattr(anyio, _name)
importlib.import_module("anyio.from_thread")
importlib.import_module("anyio._backends._asyncio")
# The same for hypothesis: its pytest plugin imports it late, in the terminal summary, when a worker
# ran no property test, and a thread a test left behind (LangChain's) may be parsing then.
importlib.import_module("hypothesis")

# A shell starts a background job (`make test &`, a CI step, a driver under nohup) with SIGINT ignored, and
# an ignored signal stays ignored in every process started from it: the Ctrl-C tests' processes would run on
# through their SIGINT and exit 0. Python's own handler here means the processes the tests start get the
# default (a handler does not survive exec; SIG_IGN does).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# `--emulator` trials (the CLI's, the MCP server's) run unpaced here, in this process and every process the tests
# start (the MCP servers' minimal environment passes it on too): paced for a person they take about a second each,
# which the suite's hundred of them spent idle. The tests of the pacing itself unset it.
os.environ.setdefault(TRIAL_PACE_ENV, "0")

# A planted key: tests that look for leaks grep every output for it.
PLANTED_KEY = "sk-planted-0123456789abcdef-SECRET"


@pytest.fixture(autouse=True)
def _root_logger_kept() -> Iterator[None]:
    """A test that runs a server's main() in process configures logging: a StreamHandler on the root logger,
    writing to the stderr pytest captured for that test. Left there, every later test's log line goes to that
    closed stream ("--- Logging error ---" in the worker's output). Removed after the test, level restored."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or endpoint from the environment."""
    for name in (
        "DASHSCOPE_API_KEY",
        "DASHSCOPE_API_KEY_FILE_PATH",
        "DASHSCOPE_HTTP_BASE_URL",
        "DASHSCOPE_WORKSPACE_ID",
        "QWEN_CI_MCP_AUTH_TOKEN",
        *(row.env for row in SETTINGS.values()),
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_report_header() -> str:
    return f"qwen-ci-tool tests; HOME={os.environ.get('HOME', '?')}"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator on a free loopback port."""
    with Emulator() as emulator:
        yield emulator


class FakeClock:
    """The clients' clock and their waits between attempts: a wait takes no real time, moves this
    clock forward by what was asked (so deadlines see it) and is recorded in ``sleeps``."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Retries without waiting: the clients' clock and sleeps become a :class:`FakeClock`."""
    clock = FakeClock()
    monkeypatch.setattr(_client, "_clock", clock)
    monkeypatch.setattr(_client, "_sleep", clock.sleep)
    monkeypatch.setattr(_client, "_async_sleep", clock.async_sleep)
    return clock


@pytest.fixture
def no_backoff(fake_clock: FakeClock) -> FakeClock:
    """Retries take no real time (the waits asked for are in ``fake_clock.sleeps``)."""
    return fake_clock


# The `otel` fixture (an in-memory OpenTelemetry SDK) for the telemetry tests.
pytest_plugins = ["tests.otel"]
