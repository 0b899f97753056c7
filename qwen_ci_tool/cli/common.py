"""What every ``qwen-ci`` command shares: the exit codes and the ``--emulator`` switch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["EXIT_FAILED", "EXIT_INCOMPLETE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "maybe_emulator"]

#: The call completed (``ask``), every task completed (``batch``), every check passed (``doctor``).
EXIT_OK = 0
#: The service or the network failed (a task failed; a check failed).
EXIT_FAILED = 1
#: Bad usage or configuration: nothing was sent.
EXIT_USAGE = 2
#: The answer is incomplete (e.g. a length limit).
EXIT_INCOMPLETE = 3
#: Interrupted (Ctrl-C); what finished is kept.
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def maybe_emulator(enabled: bool) -> Iterator[str | None]:
    """The local emulator's base URL while it serves (``--emulator``), else ``None``."""
    if not enabled:
        yield None
        return
    from ..testing import Emulator

    # A little pacing so a person sees the stages go by; still about a second in all.
    with Emulator(pace=0.01, code_pause=0.4) as emu:
        yield emu.base_url
