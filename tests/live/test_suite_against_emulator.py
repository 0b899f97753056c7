"""The live suite, run here against the emulator (``DASHSCOPE_HTTP_BASE_URL`` pointing at it), in a
subprocess as `make live-test` runs it: it passes, and leaves recordings the emulator replays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwen_ci_tool.testing import Emulator

from ._live import replay

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-live-proof-0123456789"


def run_live_suite(env: dict[str, str], *select: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, as `make live-test` runs it (``select``: instead of ``-m live tests/live``)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "QWEN_CI_"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *(select or ("-m", "live", "tests/live")),
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
        ],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.timeout(300)
def test_the_live_suite_passes_against_the_emulator_and_leaves_replayable_recordings(tmp_path: Path) -> None:
    with Emulator(api_key=KEY) as emu:
        proc = run_live_suite(
            {
                "QWEN_CI_LIVE": "1",
                "DASHSCOPE_API_KEY": KEY,
                "DASHSCOPE_HTTP_BASE_URL": emu.base_url + "/api/v1",
                "QWEN_CI_LIVE_RECORD_DIR": str(tmp_path),
            }
        )
        paths = {r.path for r in emu.requests}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout, proc.stdout
    assert "/api/v1/services/aigc/multimodal-generation/generation" in paths
    recordings = sorted(tmp_path.glob("*.sse"))
    assert [p.stem for p in recordings] == [
        "live_seed_dashscope",
        "live_seed_multimodal",
        "live_seed_openai",
        "live_seed_responses",
    ]
    for path in recordings:
        assert KEY.encode() not in path.read_bytes() + path.with_suffix(".json").read_bytes()
        replayed, recorded = replay(path)
        assert replayed == recorded and recorded["status"] == "completed", path.name


@pytest.mark.timeout(300)
def test_without_a_key_the_live_tests_are_skipped_with_one_reason() -> None:
    proc = run_live_suite({"QWEN_CI_LIVE": "1"}, "tests/live/test_live.py")
    assert proc.returncode == 5, proc.stdout + proc.stderr  # pytest's "nothing ran" (not a failure)
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "live tests need DASHSCOPE_API_KEY" in skipped[0], proc.stdout


@pytest.mark.timeout(300)
def test_a_key_in_the_environment_alone_never_sends_the_test_suite_to_the_service() -> None:
    # `make test` with DASHSCOPE_API_KEY set (a developer's shell): the live tests stay skipped.
    with Emulator(api_key=KEY) as emu:
        proc = run_live_suite(
            {"DASHSCOPE_API_KEY": KEY, "DASHSCOPE_HTTP_BASE_URL": emu.base_url + "/api/v1"}, "tests/live/test_live.py"
        )
        sent = len(emu.requests)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert sent == 0
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and "only from `make live-test`" in skipped[0], proc.stdout


def test_make_live_test_without_a_key_says_why_in_one_line() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "QWEN_CI_", "MAKE"))}
    # -o: the venv is there already (the suite runs in it); do not let make reinstall it.
    proc = subprocess.run(
        ["make", "-s", "-o", ".venv/.dev-installed", "live-test"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [proc.stdout.strip()] and "DASHSCOPE_API_KEY is not set" in proc.stdout
