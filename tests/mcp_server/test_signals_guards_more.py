"""``_signals.signals`` on a loop that cannot watch signals (Windows): a signal whose handler cannot be set
here (ValueError or OSError from ``signal.signal``) is skipped, and the others still arrive."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from mcp_server._signals import signals

from .test_signals import make_loop_windows_like, next_of

pytestmark = pytest.mark.anyio


async def test_a_signal_whose_handler_cannot_be_set_here_is_skipped_and_the_others_still_arrive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_loop_windows_like(monkeypatch)
    real = signal.signal
    refusals = {signal.SIGUSR2: ValueError("signal only works in main thread"), signal.SIGHUP: OSError(22, "no")}

    def refusing(sig: signal.Signals, handler: Any) -> Any:
        if sig in refusals:
            raise refusals[sig]
        return real(sig, handler)

    monkeypatch.setattr(signal, "signal", refusing)
    before = signal.getsignal(signal.SIGUSR1)
    with signals("SIGUSR2", "SIGHUP", "SIGUSR1") as received:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert await next_of(received) == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == before
