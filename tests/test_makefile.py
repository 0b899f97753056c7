"""The Makefile, run through `make` against a venv of stand-ins (a `python`, `uv` and `ruff` that record how they were
called and fail when told to), so nothing is downloaded or run: it installs with uv, and with pip where uv cannot;
`make test` runs mypy beside the tests and fails when either fails."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

_STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$(basename "$0") $*" in *"{fails}"*) echo "$* failed"; exit 1;; esac
echo "$* passed"
"""


def _make(
    tmp_path: Path, target: str, *, fails: str = "", installed: bool = False
) -> tuple[subprocess.CompletedProcess[str], Path, list[str]]:
    """`make TARGET` with a venv of stand-ins that fail where their command line holds *fails*: what make did, the
    venv, and the stand-ins' calls. A TARGET starting with "." is a file in the venv (a stamp); *installed*: the dev
    venv is marked installed (newer than pyproject.toml), so nothing is installed first."""
    venv, log = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "uv", "ruff"):
        path = venv / "bin" / name
        path.write_text(_STAND_IN.format(log=log, fails=fails or "\x00never"), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    if installed:
        (venv / ".dev-installed").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), f"VENV={venv}", f"{venv}/{target}" if target.startswith(".") else target],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    return done, venv, log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_the_dev_venv_is_installed_by_uv_from_the_projects_own_files(tmp_path: Path) -> None:
    done, venv, calls = _make(tmp_path, ".dev-installed")
    assert done.returncode == 0, done.stderr
    assert calls == [
        "python -m pip install --quiet --disable-pip-version-check uv>=0.9",
        f"uv pip install --quiet --python {venv}/bin/python -e .[all] --group dev",
    ]
    assert "pip installs instead" not in done.stdout + done.stderr
    assert (venv / ".dev-installed").exists() and (venv / ".demo-installed").exists()


@pytest.mark.parametrize("fails", ["uv>=0.9", "uv pip install"], ids=["uv not installable", "uv cannot install"])
def test_where_uv_cannot_install_pip_does_and_says_so(tmp_path: Path, fails: str) -> None:
    done, venv, calls = _make(tmp_path, ".dev-installed", fails=fails)
    assert done.returncode == 0, done.stderr
    assert calls[-2:] == [
        "python -m pip install --quiet --upgrade pip>=25.1",
        "python -m pip install --quiet -e .[all] --group dev",
    ]
    assert "uv could not install: pip installs instead (slower)" in done.stdout
    assert (venv / ".dev-installed").exists()


def test_the_demo_venv_gets_the_package_without_the_dev_tools(tmp_path: Path) -> None:
    done, venv, calls = _make(tmp_path, ".demo-installed")
    assert done.returncode == 0
    assert calls[-1] == f"uv pip install --quiet --python {venv}/bin/python -e .[all]"
    assert not (venv / ".dev-installed").exists()


def test_a_venv_neither_can_install_is_not_marked_installed(tmp_path: Path) -> None:
    done, venv, _ = _make(tmp_path, ".dev-installed", fails="install")
    assert done.returncode != 0 and not (venv / ".dev-installed").exists()


def test_make_test_lints_then_runs_mypy_beside_the_tests_and_shows_its_report_after_theirs(tmp_path: Path) -> None:
    done, _, calls = _make(tmp_path, "test", installed=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls[:2] == ["ruff check .", "ruff format --check ."]
    assert sorted(calls[2:]) == [
        "python -m mypy",
        "python -m pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=10",
    ]
    out = done.stdout
    assert out.index("-m pytest -n 3") < out.index("mypy:\n-m mypy passed")


@pytest.mark.parametrize("fails", ["-m mypy", "-m pytest", "ruff format"])
def test_make_test_fails_when_any_of_its_checks_fails(tmp_path: Path, fails: str) -> None:
    done, _, calls = _make(tmp_path, "test", fails=fails, installed=True)
    assert done.returncode != 0
    if fails == "ruff format":
        assert calls == ["ruff check .", "ruff format --check ."]  # nothing runs after a failed lint
    else:
        assert any(line.startswith(fails) and line.endswith(" failed") for line in done.stdout.splitlines())
        assert "mypy:" in done.stdout  # the type report is shown whichever failed
