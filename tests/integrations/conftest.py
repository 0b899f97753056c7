"""Fixtures for the LangChain integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qwen_ci_tool.testing import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator per test (it starts in about a millisecond). Not shared: a tool keeps its
    connection open for its next call, and connection counts must be this test's own."""
    with Emulator() as emu:
        yield emu
