"""The official MCP Inspector CLI drives the real server over stdio (skipped, saying why, without npx)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from typing import Any

import pytest

from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from ..machine_lock import machine_lock, setup_problem
from .conftest import REPO

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
#: The first run may download the package (about 10 s here, more on a slow network).
FETCH_TIMEOUT = 120


@cache
def _inspector_problem() -> str | None:
    """Why the Inspector cannot run here, or None when it can (fetched once per session)."""
    npx = shutil.which("npx")
    if npx is None:
        return "npx is not installed (Node.js is needed for the MCP Inspector CLI)"
    # One fetch at a time: npx's cache is per user, and two workers fetching at once can collide.
    with machine_lock("npx-inspector"):
        return setup_problem(
            [npx, "-y", INSPECTOR, "--cli", "--help"], f"npx could not fetch and run {INSPECTOR}", FETCH_TIMEOUT
        )


@pytest.fixture(scope="module")
def npx() -> str:
    problem = _inspector_problem()
    if problem:
        pytest.skip(problem)
    return shutil.which("npx")  # type: ignore[return-value]


def inspect(npx: str, emu: Emulator, *method_args: str) -> tuple[int, dict[str, Any], str]:
    command = [
        npx, "-y", INSPECTOR, "--cli", "-q", "--format", "json",
        "-e", f"DASHSCOPE_API_KEY={PLANTED_KEY}",
        "-e", f"DASHSCOPE_HTTP_BASE_URL={emu.base_url}",
        "-e", f"PYTHONPATH={REPO}",
        *method_args,
        "--", sys.executable, "-m", "mcp_server",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=FETCH_TIMEOUT, cwd=REPO, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.timeout(FETCH_TIMEOUT + 60)
def test_the_inspector_lists_the_tool_with_its_annotations_and_schemas(npx: str, emu: Emulator) -> None:
    code, envelope, _ = inspect(npx, emu, "--method", "tools/list")

    assert code == 0
    tool, result_tool = envelope["result"]["tools"]
    assert tool["name"] == "qwen_code_interpreter"
    assert tool["annotations"]["readOnlyHint"] is True and tool["annotations"]["openWorldHint"] is True
    assert tool["inputSchema"]["required"] == ["question"]
    assert "answer" in tool["outputSchema"]["$defs"]["CodeInterpreterResultModel"]["properties"]
    assert result_tool["name"] == "qwen_code_interpreter_result"
    assert result_tool["inputSchema"]["required"] == ["run_id"]


@pytest.mark.timeout(FETCH_TIMEOUT + 60)
def test_the_inspector_lists_titles_and_icons_and_the_result_tools_own_annotations(npx: str, emu: Emulator) -> None:
    from .test_metadata import check_tools

    code, envelope, _ = inspect(npx, emu, "--method", "tools/list", "--strict")

    assert code == 0  # --strict: the listing is portable across clients
    check_tools(envelope["result"]["tools"])


@pytest.mark.timeout(FETCH_TIMEOUT + 60)
def test_the_inspector_calls_the_tool_and_gets_text_and_structured_content(npx: str, emu: Emulator) -> None:
    code, envelope, stderr = inspect(
        npx,
        emu,
        "--method",
        "tools/call",
        "--tool-name",
        "qwen_code_interpreter",
        "--tool-arg",
        f"question={SEED_QUESTION}",
    )

    assert code == 0, stderr[-2000:]
    result = envelope["result"]
    assert result.get("isError") in (None, False)
    assert SEED_ANSWER in result["content"][0]["text"]
    assert result["structuredContent"]["code_runs"][0]["code"] == "123**21"
    assert PLANTED_KEY not in json.dumps(envelope) + stderr


@pytest.mark.timeout(FETCH_TIMEOUT + 60)
def test_the_readmes_keyless_inspector_command_gets_the_seed_answer_without_a_key(npx: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    [line] = [ln for ln in readme.splitlines() if ln.startswith("npx ") and ln.endswith("-- qwen-ci-mcp --emulator")]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DASHSCOPE_", "QWEN_CI_"))}
    words = shlex.split(re.sub(r"\$(\w+)", lambda name: env.get(name[1], ""), line))  # as a shell without a key
    server = words.index("--")
    command = [npx, *words[1:server], "--", sys.executable, "-m", "mcp_server", *words[server + 2 :]]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=FETCH_TIMEOUT, cwd=REPO, stdin=subprocess.DEVNULL,
        env={**env, "NO_COLOR": "1"},
    )  # fmt: skip

    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    assert SEED_ANSWER in json.loads(done.stdout)["content"][0]["text"]
