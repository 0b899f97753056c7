"""The command line as a real process: ``python -m qwen_ci_tool ARGS`` (or a script), with this
process's environment minus its DashScope variables, plus what the test gives."""

from __future__ import annotations

import os
import subprocess
import sys


def clean_env(**env: str) -> dict[str, str]:
    """This environment without its ``DASHSCOPE*`` variables, plus *env*."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE")}, **env}


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` to its end (at most 60 s), its output captured."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, env=clean_env(**env), check=False
    )


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m qwen_ci_tool ARGS`` to its end (at most 60 s), its output captured."""
    return run_python("-m", "qwen_ci_tool", *args, **env)


def start_cli(*args: str, stdout: int = subprocess.PIPE, **env: str) -> subprocess.Popen[str]:
    """``python -m qwen_ci_tool ARGS`` started, its stderr (and by default its stdout) a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "qwen_ci_tool", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**env),
    )
