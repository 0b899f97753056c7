"""Shared test configuration: no test may reach the internet; the emulator is local."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from qwen_ci_tool import _constants
from qwen_ci_tool.testing import Emulator

# A planted key: tests that look for leaks grep every output for it.
PLANTED_KEY = "sk-planted-0123456789abcdef-SECRET"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or endpoint from the environment."""
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_API_KEY_FILE_PATH", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_WORKSPACE_ID", "QWEN_CI_MCP_AUTH_TOKEN"):
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


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without waiting (Retry-After from the emulator is 0 in these tests anyway)."""
    monkeypatch.setattr(_constants, "INITIAL_RETRY_DELAY", 0.0)
