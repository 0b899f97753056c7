"""What every ``qwen-ci`` command shares: the exit codes, the local emulator (``--emulator``, ``replay``)
and how a failure is told to a person."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .._config import resolve_settings
from .._exceptions import QwenCIError, RateLimitError
from .._knobs import Knobs

__all__ = [
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "for_person",
    "maybe_emulator",
]

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


def for_person(err: QwenCIError, knobs: Knobs) -> str:
    """One paragraph for a person: what happened, what to do, and whether trying again may help."""
    text = err.describe(knobs)
    if err.retryable and not isinstance(err, RateLimitError):
        text += " This is likely temporary: trying again in a moment may work."
    return text


@contextlib.contextmanager
def maybe_emulator(enabled: bool, settings: dict[str, Any], *, replay: bytes | None = None) -> Iterator[str | None]:
    """The local emulator's base URL while it serves (``--emulator``, or to answer with the
    ``replay`` stream verbatim), else ``None``.

    The settings are checked first (as they will be sent: the emulator's URL, a stand-in key), so a
    bad one is refused before the emulator starts and announces itself."""
    if not enabled and replay is None:
        yield None
        return
    resolve_settings(**{**settings, "base_url": "http://127.0.0.1", "api_key": "sk-emulator"})
    from ..testing import Emulator

    # A little pacing so a person sees the stages go by; still about a second in all.
    with Emulator(pace=0.01, code_pause=0.4) as emu:
        if replay is not None:
            emu.replay(replay)
        yield emu.base_url
