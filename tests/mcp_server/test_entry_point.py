"""The installed ``qwen-ci-mcp`` as a new user meets it: without the ``[mcp]`` extra it names the extra
(no traceback), and ``--emulator`` answers a stdio tool call with no key and no network."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION

from ..conftest import PLANTED_KEY
from .conftest import REPO
from .processes import server_env
from .test_tool import text_of

# The top-level modules the [mcp] extra brings; a core-only install has none of them.
MCP_EXTRA_MODULES = ("mcp", "mcp_types", "uvicorn", "starlette", "sse_starlette", "pydantic", "prometheus_client")

# Makes the named modules unimportable in a child process, as if their distributions were not installed.
BLOCKER = """\
import sys

BLOCKED = {blocked!r}


class _NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in BLOCKED or name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled)
"""


def _console_script() -> str:
    script = shutil.which("qwen-ci-mcp", path=str(Path(sys.executable).parent))
    assert script is not None, "qwen-ci-mcp is installed next to this interpreter"
    return script


def _without(blocked: tuple[str, ...], tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(blocked)), encoding="utf-8")
    env = server_env()
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
    )


@pytest.mark.parametrize("blocked", [("uvicorn",), MCP_EXTRA_MODULES], ids=["uvicorn-only", "core-only-install"])
@pytest.mark.parametrize("argv", [["--help"], ["--version"], []], ids=["help", "version", "serve"])
def test_qwen_ci_mcp_without_the_mcp_extra_names_the_extra_and_exits_2_without_a_traceback(
    blocked: tuple[str, ...], argv: list[str], tmp_path: Path
) -> None:
    done = _without(blocked, tmp_path, _console_script(), *argv)

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "qwen-ci-mcp: error:" in lines[0] and "pip install 'qwen-ci-tool[mcp]'" in lines[0]
    assert any(repr(module) in lines[0] for module in blocked)  # names the module that is missing


def test_python_m_mcp_server_without_the_extra_says_the_same(tmp_path: Path) -> None:
    done = _without(MCP_EXTRA_MODULES, tmp_path, sys.executable, "-m", "mcp_server", "--help")

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "pip install 'qwen-ci-tool[mcp]'" in done.stderr


def test_importing_the_server_without_the_extra_raises_an_error_naming_the_extra(tmp_path: Path) -> None:
    code = "from mcp_server import create_server"
    done = _without(("uvicorn", "prometheus_client"), tmp_path, sys.executable, "-c", code)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("ModuleNotFoundError: The MCP server needs the optional")
    assert "pip install 'qwen-ci-tool[mcp]'" in done.stderr


def test_a_missing_module_of_the_project_itself_is_not_blamed_on_the_extra(tmp_path: Path) -> None:
    done = _without(("mcp_server.http.auth",), tmp_path, _console_script(), "--help")
    # A broken install of this project is a real error: its traceback stays.
    assert done.returncode == 1 and "Traceback" in done.stderr and "pip install" not in done.stderr


def test_a_redis_run_store_without_the_redis_client_names_the_extra_and_exits_2(tmp_path: Path) -> None:
    done = _without(("redis",), tmp_path, _console_script(), "--run-store", "redis://127.0.0.1:6379/0")

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs the redis client library" in done.stderr and "pip install 'qwen-ci-tool[mcp]'" in done.stderr


@pytest.mark.anyio
async def test_qwen_ci_mcp_emulator_answers_a_stdio_tool_call_with_no_key(tmp_path: Path) -> None:
    params = StdioServerParameters(command=_console_script(), args=["--emulator"], env=server_env(), cwd=REPO)
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            with anyio.fail_after(30):
                result = await client.call_tool("qwen_code_interpreter", {"question": SEED_QUESTION})
        errlog.seek(0)
        log = errlog.read()

    assert not result.is_error, text_of(result)
    assert SEED_ANSWER in text_of(result)
    assert result.structured_content is not None and result.structured_content["code_runs"][0]["code"] == "123**21"
    assert "built-in emulator" in log and "DASHSCOPE_API_KEY is not set" not in log


def test_an_mcp_client_config_sets_the_settings_by_qwen_ci_variables_as_server_json_lists_them() -> None:
    env = server_env(QWEN_CI_MODEL="qwen3.5-plus", QWEN_CI_PROTOCOL="responses")
    done = subprocess.run(
        [_console_script(), "--emulator"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "model qwen3.5-plus via responses" in done.stderr


@pytest.mark.parametrize("script", ["qwen-ci-mcp", "qwen-ci-tool"])
def test_each_installed_server_script_speaks_under_its_own_name(script: str) -> None:
    # `qwen-ci-tool` is what registry clients run (`uvx ... qwen-ci-tool`): its help, version and errors
    # must not send the user looking for another command.
    path = shutil.which(script, path=str(Path(sys.executable).parent))
    assert path is not None, f"{script} is installed next to this interpreter"
    run = [(path, *args) for args in (("--help",), ("--version",), ("--transport", "smoke-signals"))]
    helped, version, refused = (
        subprocess.run(cmd, env=server_env(), capture_output=True, text=True, timeout=60, check=False) for cmd in run
    )
    assert helped.returncode == 0 and helped.stdout.startswith(f"usage: {script} "), helped.stdout[:200]
    assert version.stdout.startswith(f"{script} "), version.stdout
    assert refused.returncode == 2 and f"{script}: error:" in refused.stderr, refused.stderr


def test_with_emulator_no_key_from_the_environment_reaches_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # audit 6's m04: whichever variable holds a real key, --emulator replaces it before the server reads it.
    import mcp_server.__main__ as entry

    for variable in ("QWEN_CI_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.setenv(variable, PLANTED_KEY)
    seen: dict[str, str | None] = {}

    def serve(args: object) -> int:
        seen.update({v: os.environ.get(v) for v in ("QWEN_CI_API_KEY", "DASHSCOPE_API_KEY")})
        return 0

    monkeypatch.setattr(entry, "_serve", serve)
    assert entry.main(["--emulator"]) == 0
    assert seen == {"QWEN_CI_API_KEY": "sk-emulator", "DASHSCOPE_API_KEY": "sk-emulator"}


# Runs the entry point on each command line in turn (in one process), then lists the modules of the extra
# that were imported: none of the MCP SDK, the web stack or the metrics for what needs no serving.
_IMPORT_PROBE = """\
import contextlib, io, json, sys
import mcp_server.__main__ as entry
codes = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes.append(entry.main(argv))
        except SystemExit as exc:
            codes.append(exc.code)
print(json.dumps([codes, sorted(m for m in {extra} if m in sys.modules)]))
"""


def test_help_version_and_refused_settings_answer_without_importing_the_sdk() -> None:
    # `uvx qwen-ci-tool --help` in a fraction of a second: the SDK's import alone takes about one.
    from mcp_server import _EXTRA_MODULES

    argvs = [
        ["--help"],
        ["--version"],
        ["--transport", "smoke-signals"],
        ["--transport", "streamable-http", "--host", "0.0.0.0"],  # beyond loopback without a token
        ["--transport", "streamable-http", "--port", "70000"],
        ["--transport", "streamable-http", "--auth-token", "short"],
    ]
    probe = _IMPORT_PROBE.format(extra=repr(_EXTRA_MODULES))
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(argvs)], env=server_env(), cwd=REPO, capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    codes, imported = json.loads(done.stdout)
    assert codes == [0, 0, 2, 2, 2, 2]
    assert imported == []


def test_the_modules_looked_for_before_help_are_every_third_party_module_the_server_imports() -> None:
    # Missing any, `qwen-ci-mcp --help` says which extra to install; looking for one it never imports would
    # refuse an install that works. The core's dependencies and the redis client (asked for by a redis
    # run store only, with its own message) are not the extra's to look for.
    from mcp_server import _EXTRA_MODULES

    imported: set[str] = set()
    for path in (REPO / "mcp_server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.partition(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"qwen_ci_tool", "mcp_server", "httpx", "anyio", "redis"}
    assert sorted(_EXTRA_MODULES) == sorted(third_party)
