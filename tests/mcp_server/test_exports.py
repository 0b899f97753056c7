from __future__ import annotations

import tomllib

import mcp_server
from mcp_server.__main__ import main

from .conftest import REPO


def test_all_is_exactly_the_public_surface_and_sorted() -> None:
    expected = ["DEFAULT_MAX_CONCURRENCY", "DEFAULT_MAX_OUTPUT_CHARS", "SERVER_NAME", "TOOL_NAME", "create_server"]
    assert mcp_server.__all__ == expected
    assert all(hasattr(mcp_server, name) for name in expected)


def test_the_console_script_points_at_the_entry_point() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["qwen-ci-mcp"] == "mcp_server.__main__:main"
    assert callable(main)
