"""The README's MCP recipes, run: the Python HTTP client against ``qwen-ci-mcp --transport
streamable-http --emulator``, the MCP Inspector over HTTP, and the desktop configs in both forms."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from types import ModuleType

import pytest

from mcp_server.__main__ import build_parser
from qwen_ci_tool.testing import SEED_ANSWER

from .conftest import REPO
from .processes import ServerProcess, http_server_process
from .test_inspector import FETCH_TIMEOUT, INSPECTOR, _inspector_problem

TOKEN = "readme-token-0123456789"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), REPO / "examples" / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def keyless_server() -> Iterator[ServerProcess]:
    """The README's `qwen-ci-mcp --transport streamable-http --auth-token "$TOKEN" --emulator`, shared by the recipes
    that call it (neither changes what it serves)."""
    with http_server_process("--emulator", "--auth-token", TOKEN) as server:
        yield server


def test_the_python_http_client_recipe_answers_from_the_keyless_server(keyless_server: ServerProcess) -> None:
    env = {**os.environ, "QWEN_CI_MCP_URL": keyless_server.url, "QWEN_CI_MCP_AUTH_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "mcp_http_client.py")],
        env=env, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert SEED_ANSWER in done.stdout and "123**21" in done.stdout


def test_the_python_http_client_recipe_waits_longer_than_httpx2s_default_5_s() -> None:
    client = _example("mcp_http_client.py").http_client(TOKEN)
    # A silent code run of minutes must not end the call; the SDK's own client reads for 300 s.
    assert client.timeout.read is not None and client.timeout.read >= 300
    assert client.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.timeout(FETCH_TIMEOUT + 60)
def test_the_inspector_over_http_lists_the_tools_of_the_keyless_server(keyless_server: ServerProcess) -> None:
    problem = _inspector_problem()
    if problem:
        pytest.skip(problem)
    done = subprocess.run(
        ["npx", "-y", INSPECTOR, "--cli", "-q", "--format", "json", keyless_server.url,
         "--header", f"Authorization: Bearer {TOKEN}", "--method", "tools/list"],
        capture_output=True, text=True, timeout=FETCH_TIMEOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    names = [tool["name"] for tool in json.loads(done.stdout)["result"]["tools"]]
    assert names == ["qwen_code_interpreter", "qwen_code_interpreter_result"]


def test_the_uvx_desktop_config_runs_the_servers_console_script_from_the_mcp_extra() -> None:
    config = json.loads((REPO / "examples" / "claude_desktop_config_uvx.json").read_text(encoding="utf-8"))
    (entry,) = config["mcpServers"].values()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    assert entry["command"] == "uvx"
    frm, package, script, *args = entry["args"]
    assert frm == "--from" and package == f"{project['name']}[mcp]" and "mcp" in project["optional-dependencies"]
    assert project["scripts"][script] == "mcp_server.__main__:main"
    build_parser().parse_args(args)  # exits on an unknown or invalid flag
    assert set(entry["env"]) == {"DASHSCOPE_API_KEY"}
