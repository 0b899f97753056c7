"""Behaviours audit 10 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from qwen_ci_tool.cli import batch as batch_module
from qwen_ci_tool.cli.common import detach
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_batch import _Terminal, batch, write_input

README = Path(__file__).resolve().parents[2] / "README.md"


def _lowest_free_fd() -> int:
    probe = os.open(os.devnull, os.O_RDONLY)
    os.close(probe)
    return probe


def test_detaching_a_stream_drops_what_it_still_holds_and_leaves_no_descriptor_open(tmp_path: Path) -> None:
    # A broken standard output is pointed at the null device: the device's own descriptor is closed
    # again (each detach leaking one would end a long batch with "too many open files").
    path = tmp_path / "out.txt"
    with path.open("w", encoding="utf-8") as stream:
        free = _lowest_free_fd()
        for _ in range(3):
            detach(stream)
        assert _lowest_free_fd() == free
        stream.write("dropped")
    assert path.read_text(encoding="utf-8") == ""


class _Clock:
    """The batch module's view of anyio with its sleeps recorded (and kept short, so the test is quick)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(anyio, name)

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await anyio.sleep(0.01)


def test_on_a_terminal_the_status_line_is_redrawn_every_second_as_the_readme_says(
    tmp_path: Path, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "on a terminal one status line, redrawn every second" in " ".join(README.read_text(encoding="utf-8").split())
    clock = _Clock()
    monkeypatch.setattr(batch_module, "anyio", clock)
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    with Emulator(call_seconds=0.5) as emu:
        code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, stderr=_Terminal())
    assert code == 0 and len(clock.asked) >= 2 and set(clock.asked) == {1.0}, (clock.asked, err)
