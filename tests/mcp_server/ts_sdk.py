"""The official TypeScript MCP SDK, installed once by the test setup with npm into a cache directory.

Tests that drive it skip, saying why, only when Node.js/npm is missing or npm cannot install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

import pytest

from ..machine_lock import cache_root, machine_lock, setup_problem

TS_SDK = "@modelcontextprotocol/sdk@1.32.2"
INSTALL_TIMEOUT = 180
SCRIPTS = Path(__file__).with_name("ts")


def _cache_dir() -> Path:
    return cache_root() / ("ts-client-" + TS_SDK.replace("/", "+").replace("@", ""))


@cache
def _installed() -> Path | str:
    """The directory holding node_modules with the SDK (installed the first time), or why not."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return "Node.js (node and npm) is not installed: the TypeScript SDK client cannot run"
    home = _cache_dir()
    # Checked and installed under the lock: another worker's npm may be writing node_modules.
    with machine_lock(home.name):
        if (home / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json").exists():
            return home
        home.mkdir(parents=True, exist_ok=True)
        (home / "package.json").write_text('{"private": true, "type": "module"}\n')
        problem = setup_problem(
            [npm, "install", "--no-audit", "--no-fund", "--silent", TS_SDK],
            f"npm could not install {TS_SDK} (is the registry reachable?)",
            INSTALL_TIMEOUT,
            cwd=home,
        )
    return problem or home


def ts_script(name: str) -> Path:
    """``tests/mcp_server/ts/<name>`` copied next to the SDK's node_modules (where its imports
    resolve), ready for ``node``; skips the test when the SDK cannot be installed."""
    home = _installed()
    if isinstance(home, str):
        pytest.skip(home)
    # Under a name of its own content, written atomically: checkouts sharing the cache never run
    # each other's copy, and a node started meanwhile reads a whole file.
    content = (SCRIPTS / name).read_bytes()
    stem, _, suffix = name.rpartition(".")
    script = home / f"{stem}-{hashlib.sha256(content).hexdigest()[:12]}.{suffix}"
    partial = home / f"{script.name}.{os.getpid()}.tmp"
    partial.write_bytes(content)
    partial.replace(script)
    return script
