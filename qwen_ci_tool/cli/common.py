"""What every ``qwen-ci`` command shares: the exit codes, the local emulator (``--emulator``, ``replay``),
how a failure is told to a person, and standard output that says when it cannot be written."""

from __future__ import annotations

import contextlib
import errno
import math
import os
from collections.abc import Iterator
from typing import IO, Any

from .._config import resolve_settings
from .._exceptions import ConfigurationError, QwenCIError, RateLimitError
from .._knobs import Knobs, flag

__all__ = [
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "GuardedOutput",
    "OutputError",
    "detach",
    "for_person",
    "maybe_emulator",
    "output_lost",
    "trial_pacing",
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


#: An ``--emulator`` trial (``qwen-ci ask/batch --emulator``, ``qwen-ci replay``, ``qwen-ci-mcp --emulator``) is paced
#: so that a person sees the stages go by: TRIAL_PACE between events, CODE_PAUSE_EVENTS of them of silence while
#: the sandbox runs a code, about a second a call. QWEN_CI_EMULATOR_PACE sets the pause (0: none, for a CI smoke run).
TRIAL_PACE_ENV = "QWEN_CI_EMULATOR_PACE"
TRIAL_PACE = 0.01
CODE_PAUSE_EVENTS = 40
_MAX_TRIAL_PACE = 10.0


def trial_pacing() -> tuple[float, float]:
    """(pause between events, pause after a code) of an ``--emulator`` trial, as QWEN_CI_EMULATOR_PACE sets them;
    a value that is not a pause is a :class:`ConfigurationError` naming the variable."""
    raw = os.environ.get(TRIAL_PACE_ENV, "").strip()
    if not raw:
        pace = TRIAL_PACE
    else:
        try:
            pace = float(raw)
        except ValueError:
            pace = math.nan
        if not 0 <= pace <= _MAX_TRIAL_PACE:  # NaN fails both
            raise ConfigurationError(
                f"{TRIAL_PACE_ENV}={raw!r} is not a pause in seconds between the emulator's events: set it to a "
                f"number from 0 (no pauses) to {_MAX_TRIAL_PACE:g}, or unset it for {TRIAL_PACE:g}."
            )
    return pace, CODE_PAUSE_EVENTS * pace


def for_person(err: QwenCIError, knobs: Knobs) -> str:
    """One paragraph for a person: what happened, what to do, and whether trying again may help."""
    text = err.describe(knobs)
    if err.retryable and not isinstance(err, RateLimitError):
        text += " This is likely temporary: trying again in a moment may work."
    return text


@contextlib.contextmanager
def maybe_emulator(enabled: bool, settings: dict[str, Any], *, replay: bytes | None = None) -> Iterator[str | None]:
    """The local emulator's base URL while it serves (``--emulator``, or to answer with the
    ``replay`` stream verbatim), else ``None``. A ``--base-url`` or ``--region`` given with it is
    refused: the emulator would answer instead of the endpoint they name.

    The settings are checked first (as they will be sent: the emulator's URL, a stand-in key), so a
    bad one is refused before the emulator starts and announces itself."""
    if not enabled and replay is None:
        yield None
        return
    ignored = [flag(name) for name in ("base_url", "region") if settings.get(name) is not None]
    if ignored:
        given = " and ".join(ignored)
        raise ConfigurationError(
            f"--emulator answers from the local emulator, so {given} would not be used: drop --emulator to call "
            f"that endpoint, or drop {given} to try the emulator. Nothing was sent."
        )
    resolve_settings(**{**settings, "base_url": "http://127.0.0.1", "api_key": "sk-emulator"})
    pace, code_pause = trial_pacing()
    from ..testing import Emulator

    with Emulator(pace=pace, code_pause=code_pause) as emu:
        if replay is not None:
            emu.replay(replay)
        yield emu.base_url


class OutputError(OSError):
    """Standard output could not be written: the device it goes to is full, or its reader is gone."""


class GuardedOutput:
    """A command's standard output: a write or flush that fails raises :class:`OutputError` (an
    ``OSError`` still, for the commands that handle their own), so that it is not taken for a failure
    of a file the command opened; ``error`` keeps the first one."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as err:
            raise self._failed(err) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as err:
            raise self._failed(err) from None

    def _failed(self, err: OSError) -> OutputError:
        self.error = self.error or err
        # All of its arguments: an OSError raised with a message alone (no errno) keeps that message.
        return err if isinstance(err, OutputError) else OutputError(*err.args)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's own
        return getattr(self.stream, name)


def output_lost(err: OSError, command: str) -> str:
    """The line that says standard output could not be written, why, and what to do instead."""
    why = {
        errno.ENOSPC: "the device or file it goes to is full",
        errno.EPIPE: "the program reading it has exited",
    }.get(err.errno or 0, "")
    text = f"error: could not write to standard output ({err.strerror or err}{': ' + why if why else ''})"
    if command == "ask":
        return (
            f"{text}; the result is lost (it was billed; asking again is billed again). Redirect standard "
            "output to a file with room (> result.json), or keep a copy with --export run.md.\n"
        )
    where = (
        "to a file (> FILE) or to a program that reads all of it"
        if err.errno == errno.EPIPE
        else "somewhere with room (> FILE)"
    )
    return f"{text}; send it {where} and run the command again.\n"


def detach(stream: IO[str]) -> None:
    """Point *stream*'s file descriptor at the null device, so that what it still holds is dropped
    at exit instead of failing again (Python's "Exception ignored ... BrokenPipeError")."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # not a file (StringIO), or closed
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
