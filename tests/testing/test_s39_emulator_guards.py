"""Emulator paths no test took (a coverage run over tests/core, tests/testing and tests/integrations, issue 26)."""

from __future__ import annotations

import errno
import socket

import pytest

from qwen_ci_tool.testing import Emulator


def test_an_emulator_whose_port_is_taken_raises_the_bind_error_from_start_and_starts_once_the_port_is_free() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        emu = Emulator(port=port)
        with pytest.raises(OSError) as info:  # noqa: PT011 - checked by its errno below
            emu.start()
        assert info.value.errno in (errno.EADDRINUSE, 10048), info.value  # 10048: Windows' WSAEADDRINUSE
        # Not left half-started: the same object is not "already running", and a free port serves.
        with pytest.raises(RuntimeError, match="not running"):
            _ = emu.port
    with emu:  # the port is free again
        assert emu.port == port
