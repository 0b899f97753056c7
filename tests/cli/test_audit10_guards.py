"""Behaviours audit 10 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import os
from pathlib import Path

from qwen_ci_tool.cli.common import detach


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
