"""Fixtures for the MCP server tests: a local emulator and servers pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_server import create_server
from qwen_ci_tool.testing import Emulator

from ..conftest import PLANTED_KEY
from ..redis_server import redis_binary, redis_url  # noqa: F401 - fixtures: pytest finds them by name here

REPO = Path(__file__).resolve().parents[2]
#: A heartbeat this short shows up in any call that waits on the emulator's code pause.
FAST_HEARTBEAT = 0.05


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def make_server(emu: Emulator) -> Callable[..., MCPServer]:
    """A server on the emulator with the planted key, no retries and a fast heartbeat."""

    def make(**options: Any) -> MCPServer:
        settings: dict[str, Any] = {
            "api_key": PLANTED_KEY,
            "base_url": emu.base_url,
            "max_retries": 0,
            "heartbeat_interval": FAST_HEARTBEAT,
        }
        settings.update(options)
        return create_server(**settings)

    return make
