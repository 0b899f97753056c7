"""``qwen-ci batch``'s OUTPUT: where the lines go, what an earlier run left there, and what to send.

OUTPUT is a regular file (created if missing), read line by line to resume and appended to one
line per ``os.write``, so a kill never leaves half a line in the middle; or ``-`` for standard
output, which streams the lines and resumes nothing. Anything else (a device such as /dev/full,
a pipe, a directory) is refused before anything is sent: it cannot be read back to resume, and
reading it could never end. So is INPUT itself (results would be appended to the tasks).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Literal

from .._batch import BatchOutcome, BatchTask, Interrupted
from .._constants import MAX_LINE_BYTES
from .._exceptions import ConfigurationError
from .flags import CLI

__all__ = ["LineState", "Output", "Resume", "open_output", "plan_resume", "read_output"]

_STATUSES = ("completed", "incomplete", "failed")
_BLOCK = 64 * 1024
#: How every line :meth:`Output.write` writes begins (a tail that begins so and is not whole JSON was cut).
_LINE_START = b'{"id":'
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True, slots=True)
class LineState:
    """What resuming needs to know of an id's last line (not the result it holds)."""

    status: Literal["completed", "incomplete", "failed"]
    retryable: bool = False
    interrupted: bool = False  # stopped by Ctrl-C or a failure of the batch: not a verdict on the task

    @classmethod
    def of_line(cls, data: Mapping[str, Any]) -> LineState:
        error = data.get("error")
        error = error if isinstance(error, dict) else {}
        return cls(data["status"], error.get("retryable") is True, error.get("type") == Interrupted.__name__)

    @classmethod
    def of_outcome(cls, outcome: BatchOutcome) -> LineState:
        return cls(outcome.status, outcome.retryable, isinstance(outcome.error, Interrupted))


def _lines(file: BinaryIO) -> Iterator[bytes]:
    """The file's lines, each read on its own; a line longer than ``MAX_LINE_BYTES`` is skipped
    (no output line is that long), so no file is ever read whole."""
    while line := file.readline(MAX_LINE_BYTES):
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            continue
        yield line


def read_output(lines: Iterable[bytes | str]) -> dict[str, LineState]:
    """The last line written for each id: a later line for an id replaces an earlier one.

    A last line cut short (the process was killed while writing it) is ignored; so is any line
    that is not an output object. Bytes are read as :meth:`Output.write` wrote them: UTF-8, an id
    that was not (an INPUT in another encoding) with the same escapes as INPUT's, so it matches.
    """
    latest: dict[str, LineState] = {}
    for line in lines:
        text = line.decode("utf-8", "surrogateescape").removeprefix("\ufeff") if isinstance(line, bytes) else line
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data.get("status") in _STATUSES:
            latest[data["id"]] = LineState.of_line(data)
    return latest


@dataclass(frozen=True)
class Resume:
    """What a run sends, given INPUT and what OUTPUT already holds."""

    to_send: list[BatchTask]
    done: int  # completed or incomplete already: never sent again
    kept_retryable: int  # failed, retryable, not re-sent (no --retry-failed)
    kept_permanent: int  # failed, not retryable: not re-sent even with --retry-failed
    resent: int  # failed, retryable, sent again (--retry-failed)
    interrupted: int  # stopped while in flight by an earlier run: sent again


def plan_resume(tasks: list[BatchTask], previous: Mapping[str, LineState], retry_failed: bool) -> Resume:
    to_send: list[BatchTask] = []
    done = kept_retryable = kept_permanent = resent = interrupted = 0
    for task in tasks:
        line = previous.get(task.id)
        if line is None:
            to_send.append(task)
        elif line.interrupted:
            interrupted += 1
            to_send.append(task)
        elif line.status != "failed":
            done += 1
        elif not line.retryable:
            kept_permanent += 1
        elif retry_failed:
            resent += 1
            to_send.append(task)
        else:
            kept_retryable += 1
    return Resume(to_send, done, kept_retryable, kept_permanent, resent, interrupted)


class Output:
    """Where the lines go: appended to a file (one ``os.write`` each) or streamed to standard output."""

    def __init__(self, name: str, *, fd: int | None = None, stream: IO[str] | None = None) -> None:
        self.name = name
        self.resumes = fd is not None  # a file is read back by the next run; standard output is not
        self._fd = fd
        self._stream = stream

    def previous(self) -> dict[str, LineState]:
        """What an earlier run wrote (nothing for standard output), read line by line."""
        if self._fd is None:
            return {}
        with open(os.dup(self._fd), "rb") as file:
            file.seek(0)
            return read_output(_lines(file))

    def write(self, outcome: BatchOutcome) -> None:
        line = json.dumps(outcome.to_dict(CLI), ensure_ascii=False, separators=(",", ":")) + "\n"
        if self._fd is not None:
            os.write(self._fd, line.encode("utf-8", "surrogateescape"))
        else:
            assert self._stream is not None
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _end_last_line(fd: int) -> None:
    """A last line without its newline, reading only the tail: one of this command's lines cut short
    by a kill while it was written (it begins as they do and is not whole JSON) is removed; any other
    (a whole line, the last line of a file that was not an OUTPUT) is kept and given its newline."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        cut = os.pread(fd, end - start, start).rfind(b"\n")
        if cut >= 0:
            end = start + cut + 1
            break
        end = start
    tail = os.pread(fd, size - end, end)
    if tail[: len(_LINE_START)] == _LINE_START[: len(tail)]:
        try:
            json.loads(tail)
        except ValueError:
            os.ftruncate(fd, end)
            return
    os.pwrite(fd, b"\n", size)


def open_output(path: str, stdout: IO[str], source: str) -> Output:
    """OUTPUT opened for appending, or a :class:`ConfigurationError` (exit 2) saying what to use.

    OUTPUT may not be ``source`` (INPUT): appending results would add duplicate ids to it."""
    if path == "-":
        return Output("standard output", stream=stdout)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        mode = stat.S_IFREG
    else:
        mode = status.st_mode
        if os.path.samestat(status, os.stat(source)):
            raise ConfigurationError(
                f"OUTPUT {path} is INPUT {source}: the results would be appended to the tasks. "
                "Write them to another file (-o results.jsonl). Nothing was sent."
            )
    for test, kind in _KINDS:
        if test(mode):
            raise ConfigurationError(
                f"OUTPUT {path} is {kind}, not a file: a batch reads its OUTPUT back to resume and appends "
                "one line per task to it. Write to a file (-o results.jsonl), or stream the lines to standard "
                "output with -o - (nothing is resumed then). Nothing was sent."
            )
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    _end_last_line(fd)
    return Output(path, fd=fd)
