"""Fixtures for the LangChain integration tests: one emulator for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qwen_ci_tool.testing import Emulator


@pytest.fixture(scope="session")
def _session_emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(_session_emulator: Emulator) -> Iterator[Emulator]:
    """The shared emulator, with no faults or requests left over from another test."""
    _session_emulator.reset()
    yield _session_emulator
    _session_emulator.reset()
