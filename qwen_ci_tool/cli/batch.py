"""``qwen-ci batch INPUT.jsonl -o OUTPUT.jsonl``: many tasks through ``AsyncCodeInterpreter.run_many``.

The pure parts (reading and checking INPUT, progress and the summary) are apart from the one loop
that sends, writes and draws; OUTPUT (where the lines go, resuming from it) is
:mod:`~qwen_ci_tool.cli.batch_output`. Each outcome is one JSON line written to OUTPUT as soon as
it finishes; when the run is stopped (Ctrl-C, or a failure of the batch itself) each call in flight
is written as an interrupted line with what it had received, and running the same command again
resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO

import anyio

from .._batch import BatchOutcome, BatchTask, Interrupted, run_many_async
from .._client import AsyncCodeInterpreter
from .._config import build_messages
from .._errors import missing_key_error
from .._exceptions import ConfigurationError
from .._limiter import AdaptiveLimiter
from .batch_output import LineState, Output, open_output, plan_resume
from .common import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, maybe_emulator
from .flags import settings_from

__all__ = ["Progress", "batch", "read_tasks", "run_batch"]

_MAX_PROBLEMS = 20
#: A failed task's log line gives at most this much of its error (the whole message is in the output file).
_LOG_CHARS = 200
#: On a terminal the progress bar is redrawn this often while calls run (the elapsed time goes on).
REDRAW_SECONDS = 1.0


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
            task = _task(line, first_line)
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


def _task(line: str, first_line: Mapping[str, int]) -> BatchTask:
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


# --- progress and the summary (pure: text from counts and a time) -----------------------------


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f}s"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"  # 60 s or more: at least a minute


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
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.finished}/{self.total} done · "
            f"{self.statuses['failed']} failed · {limiter.in_flight} in flight"
            + (f" (rate-limited: starts paced at {limiter.rate:.3g}/s)" if limiter.rate is not None else "")
            + f" · {self.tokens['total_tokens']:,} tokens · {_duration(now - self.started_at)} elapsed"
            + (f" · ~{_duration(left)} left" if left is not None else "")
        )

    def line(self, outcome: BatchOutcome) -> str:
        """One plain line per finished task, for logs (when stderr is not a terminal)."""
        head = f"[{self.finished}/{self.total}] {outcome.id} {outcome.status}"
        if outcome.error is not None:
            kind = "retryable" if outcome.retryable else "not retryable"
            text = str(outcome.error).splitlines()[0] if str(outcome.error) else ""
            if len(text) > _LOG_CHARS:  # cut at a word (if there is one), and say so: the whole message is in OUTPUT
                kept, space, _ = text[:_LOG_CHARS].rpartition(" ")
                text = (kept if space else text[:_LOG_CHARS]) + " [...]"
            return f"{head}: {type(outcome.error).__name__} ({kind}): {text}"
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


#: What to do next when OUTPUT was standard output, which no later run reads.
_NOT_RESUMED = (
    "standard output is not read back, so the same command sends every task again; "
    "write to a file (-o results.jsonl) to resume"
)


def _state_of(name: str, states: Mapping[str, LineState], *, resumes: bool = True) -> str:
    """The final tally of OUTPUT (its last line per id), and what to do next (*resumes*: whether a
    later run reads OUTPUT back, as it does a file and not standard output)."""
    statuses = Counter(line.status for line in states.values())
    retryable = sum(1 for line in states.values() if line.status == "failed" and line.retryable)
    interrupted = sum(1 for line in states.values() if line.interrupted)
    permanent = statuses["failed"] - retryable
    text = (
        f"{name}: {statuses['completed']} completed, {statuses['incomplete']} incomplete, "
        f"{statuses['failed']} failed.\n"
    )
    if not resumes:
        return text + (f"  To send the failed ones again: {_NOT_RESUMED}.\n" if statuses["failed"] else "")
    if interrupted:
        text += f"  {interrupted} were stopped while they ran: the same command sends them again.\n"
    if retryable - interrupted:
        text += (
            f"  {retryable - interrupted} failed but may succeed if sent again: run the same command with "
            "--retry-failed.\n"
        )
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
    output: Output
    states: dict[str, LineState]  # the last line per id: what OUTPUT held, then what this run wrote
    err: IO[str]
    tty: bool
    drawn: bool = False
    cuts_seen: int = 0
    broken: OSError | None = None  # OUTPUT could not be written: the batch stops, nothing more is recorded

    def draw(self) -> None:
        """The status line, on a terminal (the callers' condition)."""
        self.err.write("\r\033[K" + self.progress.bar(time.monotonic(), self.limiter))
        self.err.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.err.write("\r\033[K")
            self.err.flush()
            self.drawn = False

    def record(self, outcome: BatchOutcome) -> None:
        if self.broken is not None:
            return
        try:
            self.output.write(outcome)  # first: what finished is kept whatever happens next
        except OSError as err:
            self.broken = err
            self.progress.add(outcome)  # not written, but finished and billed: the summary counts it
            raise
        self.states[outcome.id] = LineState.of_outcome(outcome)
        self.progress.add(outcome)
        if self.tty:
            self.draw()
            return
        self.err.write(self.progress.line(outcome) + "\n")
        if self.limiter.cuts > self.cuts_seen:
            self.cuts_seen = self.limiter.cuts
            self.err.write(
                f"rate-limited by the service: starts now paced at {self.limiter.rate or 0:.3g}/s "
                "(throttled tasks are sent again)\n"
            )
        self.err.flush()


async def _send(client: AsyncCodeInterpreter, run: _Run, tasks: list[BatchTask]) -> None:
    failure: OSError | None = None
    async with anyio.create_task_group() as group:
        if run.tty:

            async def tick() -> None:
                while True:
                    await anyio.sleep(REDRAW_SECONDS)
                    run.draw()

            group.start_soon(tick)
            run.draw()
        outcomes = run_many_async(client._run_task, tasks, run.limiter, on_stop=run.record)
        # Stopped (Ctrl-C, or a failure here): each call in flight is written as interrupted, and the
        # generator is closed in this task (aclosing), so its calls are cancelled before _send returns.
        # OUTPUT that cannot be written stops the batch: run.broken says why, run_batch reports it.
        try:
            async with client, contextlib.aclosing(outcomes):
                async for outcome in outcomes:
                    run.record(outcome)
        except OSError as err:
            if run.broken is None:  # not OUTPUT (standard error, say): raised below, as itself
                failure = err
        group.cancel_scope.cancel()
    if failure is not None:  # outside the task group, which would wrap it in an ExceptionGroup main does not catch
        raise failure


def _exit_code(tasks: list[BatchTask], states: Mapping[str, LineState]) -> int:
    statuses = Counter(states[t.id].status for t in tasks if t.id in states)
    if statuses["failed"]:
        return EXIT_FAILED
    if statuses["incomplete"]:
        return EXIT_INCOMPLETE
    return EXIT_OK


def run_batch(
    client: AsyncCodeInterpreter,
    tasks: list[BatchTask],
    output: Output,
    concurrency: int,
    stderr: IO[str],
    announce: str,
    *,
    retry_failed: bool,
) -> int:
    """Send what INPUT still needs, write each outcome to OUTPUT, report; the exit code."""
    limiter = AdaptiveLimiter(concurrency)
    states = output.previous()
    resume = plan_resume(tasks, states, retry_failed)
    notes = []
    if resume.done:
        notes.append(f"{resume.done} already done in {output.name}")
    if resume.interrupted:
        notes.append(f"{resume.interrupted} stopped while they ran before, sent again")
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
    run = _Run(Progress(len(resume.to_send), time.monotonic()), limiter, output, states, stderr, stderr.isatty())
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
    stderr.write(_state_of(output.name, states, resumes=output.resumes))
    if run.broken is not None:
        stderr.write(
            f"error: could not write to {output.name} ({run.broken.strerror or run.broken}): the batch stopped "
            "there and the calls in flight were cancelled; the outcome that could not be written is lost. "
            + (
                "Make room (or choose another -o), then run the same command again: a file resumes where it stopped.\n"
                if output.resumes
                else f"Note that {_NOT_RESUMED}.\n"
            )
        )
        return EXIT_FAILED
    if interrupted:
        stopped = run.progress.errors[Interrupted.__name__]
        stderr.write(
            f"Interrupted: what finished is in {output.name}"
            + (
                f"; the {stopped} call(s) in flight are written as interrupted, with what they received"
                if stopped
                else ""
            )
            + (
                (". Run the same command again to resume" + (" (they are sent again).\n" if stopped else ".\n"))
                if output.resumes
                else f"; {_NOT_RESUMED}.\n"
            )
        )
        return EXIT_INTERRUPTED
    return _exit_code(tasks, states)


def batch(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``qwen-ci batch``: read and check INPUT, the key and OUTPUT, then :func:`run_batch`."""
    with open(args.input, encoding="utf-8-sig", errors="surrogateescape") as file:  # -sig: a leading BOM is dropped
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
        output = open_output(args.output, stdout, args.input)  # INPUT, a device, a pipe, a directory: refused
        try:
            return run_batch(client, tasks, output, args.concurrency, stderr, announce, retry_failed=args.retry_failed)
        finally:
            output.close()
