"""``qwen-ci batch INPUT.jsonl -o OUTPUT.jsonl``: many tasks through ``AsyncCodeInterpreter.run_many``.

The pure parts (reading and checking INPUT, reading OUTPUT to resume, progress and the summary)
are apart from the one loop that sends, writes and draws. Each outcome is one JSON line appended
to OUTPUT with a single ``write`` as soon as it finishes, so a crash or Ctrl-C loses at most the
calls in flight; running the same command again resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import anyio

from .._batch import BatchOutcome, BatchTask
from .._client import AsyncCodeInterpreter
from .._config import build_messages
from .._errors import missing_key_error
from .._exceptions import ConfigurationError
from .._knobs import CLI
from .._limiter import AdaptiveLimiter
from .common import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, maybe_emulator
from .flags import settings_from

__all__ = [
    "OutputFile",
    "Progress",
    "Resume",
    "batch",
    "plan_resume",
    "read_output",
    "read_tasks",
    "run_batch",
]

_MAX_PROBLEMS = 20


# --- INPUT ------------------------------------------------------------------------------------


def read_tasks(lines: Iterable[str], name: str = "INPUT") -> list[BatchTask]:
    """The tasks of a JSONL input, or a :class:`ConfigurationError` listing every problem by line.

    Each non-blank line is ``{"id": "...", "question": "..."}`` or ``{"id": "...", "messages":
    [...]}``; other keys (an expected answer, tags) are allowed and ignored.
    """
    tasks: list[BatchTask] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            task = _task(line, first_line, number)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        first_line[task.id] = number
        tasks.append(task)
    if problems:
        shown = problems[:_MAX_PROBLEMS]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise ConfigurationError(
            f"{name} has {len(problems)} problem{'s' if len(problems) > 1 else ''}; nothing was sent. "
            'Each line must be {"id": "...", "question": "..."} (or "messages" instead of "question").\n  '
            + "\n  ".join(shown)
            + more
        )
    if not tasks:
        raise ConfigurationError(
            f'{name} has no tasks: write one JSON object per line, {{"id": "q1", "question": "..."}}.'
        )
    return tasks


def _task(line: str, first_line: Mapping[str, int], number: int) -> BatchTask:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f'a JSON {type(data).__name__}, not an object with "id" and "question"')
    task_id = data.get("id")
    if not isinstance(task_id, str) or not task_id.strip():
        hint = f' (write "id": "{task_id}")' if isinstance(task_id, int) else ""
        raise ValueError(f'"id" must be a non-empty string, got {json.dumps(task_id)}{hint}')
    if task_id in first_line:
        raise ValueError(f'duplicate id "{task_id}" (first on line {first_line[task_id]})')
    question, messages = data.get("question"), data.get("messages")
    if question is None and messages is None:
        raise ValueError(f'task "{task_id}" has neither "question" nor "messages"')
    try:
        build_messages(question, messages)  # the core's own checks, before anything is sent
    except ConfigurationError as exc:
        raise ValueError(f'task "{task_id}": {exc.message}') from None
    return BatchTask(task_id, question=question, messages=messages)


# --- OUTPUT and resuming ----------------------------------------------------------------------


def read_output(text: str) -> dict[str, dict[str, Any]]:
    """The last line written for each id (a later line for the same id replaces an earlier one).

    A last line cut short (the process was killed while writing it) is ignored; so is any line
    that is not an output object.
    """
    latest: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(data, dict)
            and isinstance(data.get("id"), str)
            and data.get("status") in ("completed", "incomplete", "failed")
        ):
            latest[data["id"]] = data
    return latest


def _line_retryable(line: Mapping[str, Any]) -> bool:
    error = line.get("error")
    return isinstance(error, dict) and error.get("retryable") is True


@dataclass(frozen=True)
class Resume:
    """What a run sends, given INPUT and what OUTPUT already holds."""

    to_send: list[BatchTask]
    done: int = 0  # completed or incomplete already: never sent again
    kept_retryable: int = 0  # failed, retryable, not re-sent (no --retry-failed)
    kept_permanent: int = 0  # failed, not retryable: not re-sent even with --retry-failed
    resent: int = 0  # failed, retryable, sent again (--retry-failed)


def plan_resume(tasks: list[BatchTask], previous: Mapping[str, Mapping[str, Any]], retry_failed: bool) -> Resume:
    to_send: list[BatchTask] = []
    done = kept_retryable = kept_permanent = resent = 0
    for task in tasks:
        line = previous.get(task.id)
        if line is None:
            to_send.append(task)
        elif line["status"] != "failed":
            done += 1
        elif not _line_retryable(line):
            kept_permanent += 1
        elif retry_failed:
            resent += 1
            to_send.append(task)
        else:
            kept_retryable += 1
    return Resume(to_send, done, kept_retryable, kept_permanent, resent)


class OutputFile:
    """OUTPUT opened for appending: one ``os.write`` per line, so a kill never leaves half a line
    in the middle of the file (a cut last line from an earlier kill is removed first)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        size = os.fstat(self._fd).st_size
        if size:
            with open(path, "rb") as file:
                data = file.read()
            if not data.endswith(b"\n"):
                os.ftruncate(self._fd, data.rfind(b"\n") + 1)

    def write(self, outcome: BatchOutcome) -> None:
        line = json.dumps(outcome.to_dict(CLI), ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode("utf-8", "surrogateescape"))

    def close(self) -> None:
        os.close(self._fd)


# --- progress and the summary (pure: text from counts and a time) -----------------------------


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f}s"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


_TOKEN_KINDS = ("input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "code_interpreter_calls")


@dataclass
class Progress:
    """Counts of one run: what finished how, tokens spent (failures' partials included), time."""

    total: int
    started_at: float
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)

    @property
    def finished(self) -> int:
        return sum(self.statuses.values())

    def add(self, outcome: BatchOutcome) -> None:
        self.statuses[outcome.status] += 1
        if outcome.error is not None:
            self.errors[type(outcome.error).__name__] += 1
        spent = outcome.usage_result
        if spent is not None:
            usage = spent.usage.to_dict()
            for kind in _TOKEN_KINDS:
                self.tokens[kind] += usage[kind]

    def remaining(self, now: float) -> float | None:
        if not self.finished:
            return None
        return (now - self.started_at) / self.finished * (self.total - self.finished)

    def bar(self, now: float, limiter: AdaptiveLimiter, width: int = 24) -> str:
        """One status line for a terminal."""
        filled = width * self.finished // max(self.total, 1)
        left = self.remaining(now)
        slowed = limiter.concurrency < limiter.max_concurrency
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.finished}/{self.total} done · "
            f"{self.statuses['failed']} failed · {limiter.in_flight} in flight"
            + (f" (rate-limited: {limiter.concurrency} of {limiter.max_concurrency} at once)" if slowed else "")
            + f" · {self.tokens['total_tokens']:,} tokens · {_duration(now - self.started_at)} elapsed"
            + (f" · ~{_duration(left)} left" if left is not None else "")
        )

    def line(self, outcome: BatchOutcome) -> str:
        """One plain line per finished task, for logs (when stderr is not a terminal)."""
        head = f"[{self.finished}/{self.total}] {outcome.id} {outcome.status}"
        if outcome.error is not None:
            kind = "retryable" if outcome.retryable else "not retryable"
            text = str(outcome.error).splitlines()[0] if str(outcome.error) else ""
            return f"{head}: {type(outcome.error).__name__} ({kind}): {text[:200]}"
        assert outcome.result is not None
        return f"{head} · {outcome.result.usage.total_tokens:,} tokens · {outcome.result.timings.total_time:.1f} s"

    def summary(self, now: float) -> str:
        counts = ", ".join(f"{self.statuses[s]} {s}" for s in ("completed", "incomplete", "failed"))
        errors = ", ".join(f"{name} {n}" for name, n in self.errors.most_common())
        t = self.tokens
        return (
            f"This run: {self.finished} of {self.total} finished: {counts}"
            + (f" ({errors})" if errors else "")
            + f"; wall time {_duration(now - self.started_at)}.\n"
            f"Tokens: {t['input_tokens']:,} input, {t['output_tokens']:,} output "
            f"({t['reasoning_tokens']:,} of them reasoning), {t['total_tokens']:,} total; "
            f"{t['code_interpreter_calls']:,} interpreter runs (free; the tokens are what the run costs).\n"
        )


def _state_of(path: str) -> str:
    """The final tally of OUTPUT, and what to do next."""
    with open(path, encoding="utf-8", errors="surrogateescape") as file:
        latest = read_output(file.read())
    statuses = Counter(line["status"] for line in latest.values())
    retryable = sum(1 for line in latest.values() if line["status"] == "failed" and _line_retryable(line))
    permanent = statuses["failed"] - retryable
    text = f"{path}: {statuses['completed']} completed, {statuses['incomplete']} incomplete, {statuses['failed']} failed.\n"
    if retryable:
        text += f"  {retryable} failed but may succeed if sent again: run the same command with --retry-failed.\n"
    if permanent:
        text += (
            f"  {permanent} failed for good (bad request, key, content filter, quota): they are not sent again, "
            "even with --retry-failed. Fix the task or the set-up, then remove its line from the output "
            "(or write to a new one) and run again.\n"
        )
    return text


# --- the run -----------------------------------------------------------------------------------


@dataclass
class _Run:
    progress: Progress
    limiter: AdaptiveLimiter
    output: OutputFile
    err: IO[str]
    tty: bool
    drawn: bool = False
    cuts_seen: int = 0

    def draw(self) -> None:
        if self.tty:
            self.err.write("\r\033[K" + self.progress.bar(time.monotonic(), self.limiter))
            self.err.flush()
            self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.err.write("\r\033[K")
            self.err.flush()
            self.drawn = False

    def record(self, outcome: BatchOutcome) -> None:
        self.output.write(outcome)  # first: what finished is kept whatever happens next
        self.progress.add(outcome)
        if self.tty:
            self.draw()
            return
        self.err.write(self.progress.line(outcome) + "\n")
        if self.limiter.cuts > self.cuts_seen:
            self.cuts_seen = self.limiter.cuts
            self.err.write(
                f"rate-limited by the service: now at most {self.limiter.concurrency} of "
                f"{self.limiter.max_concurrency} calls at once (throttled tasks are sent again)\n"
            )
        self.err.flush()


async def _send(client: AsyncCodeInterpreter, run: _Run, tasks: list[BatchTask]) -> None:
    async with anyio.create_task_group() as group:
        if run.tty:

            async def tick() -> None:
                while True:
                    await anyio.sleep(1.0)
                    run.draw()

            group.start_soon(tick)
            run.draw()
        async with client:
            async for outcome in client.run_many(tasks, limiter=run.limiter):
                run.record(outcome)
        group.cancel_scope.cancel()


def run_batch(
    client: AsyncCodeInterpreter,
    tasks: list[BatchTask],
    output_path: str,
    *,
    retry_failed: bool,
    concurrency: int,
    stderr: IO[str],
    announce: str,
) -> int:
    """Send what INPUT still needs, append each outcome to OUTPUT, report; the exit code."""
    limiter = AdaptiveLimiter(concurrency)
    previous: dict[str, dict[str, Any]] = {}
    if os.path.exists(output_path):
        with open(output_path, encoding="utf-8", errors="surrogateescape") as file:
            previous = read_output(file.read())
    resume = plan_resume(tasks, previous, retry_failed)
    notes = []
    if resume.done:
        notes.append(f"{resume.done} already done in {output_path}")
    if resume.resent:
        notes.append(f"{resume.resent} failed before and sent again (--retry-failed)")
    if resume.kept_retryable:
        notes.append(f"{resume.kept_retryable} failed before, not sent again without --retry-failed")
    if resume.kept_permanent:
        notes.append(f"{resume.kept_permanent} failed for good before, not sent again")
    stderr.write(
        f"Batch: {len(tasks)} tasks; sending {len(resume.to_send)}"
        + (f" ({'; '.join(notes)})" if notes else "")
        + f" {announce}, at most {concurrency} at once.\n"
    )
    stderr.flush()
    output = OutputFile(output_path)
    run = _Run(Progress(len(resume.to_send), time.monotonic()), limiter, output, stderr, stderr.isatty())
    interrupted = False
    try:
        if resume.to_send:
            anyio.run(_send, client, run, resume.to_send)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        output.close()
        run.clear()
    stderr.write(run.progress.summary(time.monotonic()))
    stderr.write(_state_of(output_path))
    if interrupted:
        lost = run.limiter.in_flight
        stderr.write(
            f"Interrupted: what finished is in {output_path}"
            + (f"; {lost} call(s) in flight were dropped" if lost else "")
            + ". Run the same command again to resume.\n"
        )
        return EXIT_INTERRUPTED
    with open(output_path, encoding="utf-8", errors="surrogateescape") as file:
        latest = read_output(file.read())
    statuses = Counter(latest[t.id]["status"] for t in tasks if t.id in latest)
    if statuses["failed"]:
        return EXIT_FAILED
    if statuses["incomplete"]:
        return EXIT_INCOMPLETE
    return EXIT_OK


def batch(args: argparse.Namespace, stderr: IO[str]) -> int:
    """``qwen-ci batch``: read and check INPUT, then :func:`run_batch`."""
    with open(args.input, encoding="utf-8", errors="surrogateescape") as file:
        tasks = read_tasks(file, args.input)  # every problem, by line, before anything is sent
    settings = settings_from(args)
    with maybe_emulator(args.emulator, settings) as emulator_url:
        if emulator_url is not None:
            settings["base_url"] = emulator_url
            settings["api_key"] = "sk-emulator"
        client = AsyncCodeInterpreter(**settings)
        if client.settings.api_key is None:
            raise missing_key_error()
        announce = "to the local emulator" if emulator_url is not None else f"to {client.model} at {client.base_url}"
        return run_batch(
            client,
            tasks,
            args.output,
            retry_failed=args.retry_failed,
            concurrency=args.concurrency,
            stderr=stderr,
            announce=announce,
        )
