from __future__ import annotations

import tomllib

import pytest

import mcp_server
from mcp_server.__main__ import main

from .conftest import REPO


def test_all_is_exactly_the_public_surface_and_sorted() -> None:
    expected = [
        "DEFAULT_MAX_CONCURRENCY", "DEFAULT_MAX_OUTPUT_CHARS", "DEFAULT_MAX_WAIT", "RESULT_TOOL_NAME", "Runtime",
        "SERVER_NAME", "TOOL_NAME", "create_server", "server_runtime",
    ]  # fmt: skip
    assert mcp_server.__all__ == expected
    assert all(hasattr(mcp_server, name) for name in expected)


def test_the_console_script_points_at_the_entry_point() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["qwen-ci-mcp"] == "mcp_server.__main__:main"
    assert callable(main)


def test_without_the_mcp_extra_the_command_says_what_to_install_in_one_line() -> None:
    import subprocess
    import sys

    # sys.modules["mcp"] = None makes every `import mcp` fail as if the extra were not installed.
    code = "import sys, runpy; sys.modules['mcp'] = None; sys.argv = ['qwen-ci-mcp']; runpy.run_module('mcp_server', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "qwen-ci-mcp: error: the MCP server needs the optional [mcp] extra (module 'mcp' is missing): "
        "pip install 'qwen-ci-tool[mcp]', or with uv: uvx --from 'qwen-ci-tool[mcp]' qwen-ci-mcp"
    )
    library = "import sys; sys.modules['mcp'] = None\nfrom mcp_server import create_server"
    proc = subprocess.run([sys.executable, "-c", library], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and "pip install 'qwen-ci-tool[mcp]'" in proc.stderr


def test_the_command_hands_each_timeout_to_the_core_which_validates_it(capsys: pytest.CaptureFixture[str]) -> None:
    from mcp_server.__main__ import main

    for flag in ("--connect-timeout", "--idle-timeout", "--total-timeout"):
        assert main([flag, "-1"]) == 2
        assert f"{flag} must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("grace", ["-1", "nan", "inf", "1e999"])
def test_a_shutdown_grace_that_is_negative_or_not_finite_is_refused(
    grace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcp_server.__main__ import main

    assert main(["--shutdown-grace", grace]) == 2
    assert "--shutdown-grace must be a finite number of seconds >= 0" in capsys.readouterr().err
