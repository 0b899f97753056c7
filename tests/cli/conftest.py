"""Fixtures the command-line tests share."""

from __future__ import annotations

import pytest

from ..conftest import PLANTED_KEY


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in DASHSCOPE_API_KEY (the planted one), as a user's shell would have it."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
