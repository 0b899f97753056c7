"""Quiet effects of ``qwen-ci`` (issue 26, s36-cli): descriptors closed, a clamp, a flush after each
redraw, a recording that stops at its first failed write. Each test fails with the break named in it."""

from __future__ import annotations

import errno
import gc
import io
import json
import os
import threading
import warnings
from pathlib import Path

import pytest

from qwen_ci_tool import AdaptiveLimiter, AsyncCodeInterpreter, ConfigurationError, InternalServerError
from qwen_ci_tool._batch import BatchOutcome, Interrupted
from qwen_ci_tool._types import CodeRunUpdated
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.ask import _Recording
from qwen_ci_tool.cli.batch import Progress, _duration, _Run, read_tasks, run_batch
from qwen_ci_tool.cli.batch_output import open_output
from qwen_ci_tool.cli.view import PlainLive, RichLive
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .test_batch import write_input


def _open_on(path: Path) -> int:
    """How many of this process's descriptors are open on *path*."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


# --- ask --record ---------------------------------------------------------------------------------


def test_a_recording_is_closed_when_the_call_ends_not_left_to_the_garbage_collector(tmp_path: Path) -> None:
    # Break: _Recording.close without `self._file.close()`, or ask's finally without `record.close()`.
    path = tmp_path / "call.sse"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        code = main(
            ["ask", "--emulator", "--record", str(path), SEED_QUESTION], stdout=io.StringIO(), stderr=io.StringIO()
        )
        gc.collect()
    unclosed = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning) and str(path) in str(w.message)]
    assert code == 0 and path.stat().st_size > 0 and unclosed == []


class _FullOnce:
    """A recording file whose first write fails (the disk was full), the later ones would succeed."""

    def __init__(self, file: object) -> None:
        self.file = file
        self.failed = False

    def write(self, data: memoryview) -> int:
        if not self.failed:
            self.failed = True
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.file.write(data)  # type: ignore[attr-defined, no-any-return]

    def close(self) -> None:
        self.file.close()  # type: ignore[attr-defined]


def test_a_recording_stops_at_its_first_failed_write_and_does_not_go_on_with_a_gap(tmp_path: Path) -> None:
    # Break: _Recording.write without `self.close()` after a failed write (later events written after a hole).
    path = tmp_path / "call.sse"
    recording = _Recording(str(path))
    recording._file = _FullOnce(recording._file)  # type: ignore[assignment]
    recording.write(b"data: 1\n\n")
    recording.write(b"data: 2\n\n")
    recording.close()
    assert recording.error is not None and recording.error.errno == errno.ENOSPC
    assert path.read_bytes() == b""


# --- batch ----------------------------------------------------------------------------------------


def test_one_problem_past_the_twenty_shown_is_counted_as_one_more() -> None:
    # Break: the "... and N more" line only past 21 problems (a boundary off by one).
    with pytest.raises(ConfigurationError) as raised:
        read_tasks(["not json"] * 21)
    assert raised.value.message.startswith("INPUT has 21 problems; nothing was sent.")
    assert raised.value.message.endswith("\n  ... and 1 more") and raised.value.message.count("\n  line ") == 20


def test_a_negative_duration_from_a_clock_step_shows_as_zero_never_with_a_minus() -> None:
    # Break: `max(seconds, 0.0)` dropped in _duration.
    assert _duration(-0.04) == "0.0s"
    assert _duration(-3.0) == "0.0s"


def test_a_duration_of_a_minute_or_more_rounds_to_the_nearest_second_not_down() -> None:
    # Break (audit 12's l01, a whole-suite miss): `round(seconds)` -> `int(seconds)` in _duration.
    assert _duration(119.6) == "2m00s"
    assert _duration(3599.5) == "1h00m"
    assert _duration(61.4) == "1m01s"


class _FlushedTerminal(io.StringIO):
    """A terminal's standard error: what the person sees is what was there at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        self.seen.append(self.getvalue())


def test_on_a_terminal_each_drawn_status_line_is_flushed_at_once(tmp_path: Path, keyed: None) -> None:
    # Break: _Run.draw without `self.err.flush()`: a terminal's stderr is line-buffered and the bar ends
    # without a newline, so it would stay out of sight until the next newline.
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    err = _FlushedTerminal()
    with Emulator() as emu:
        code = main(
            ["batch", str(source), "-o", str(out), "--base-url", emu.base_url], stdout=io.StringIO(), stderr=err
        )
    shown = [seen.rsplit("\r\033[K", 1)[-1] for seen in err.seen]
    assert code == 0
    assert any(line.startswith("[" + "." * 24 + "] 0/1 done") for line in shown), err.seen
    assert any(line.startswith("[" + "#" * 24 + "] 1/1 done") for line in shown), err.seen


def test_a_slow_down_is_told_once_not_again_with_every_task_that_finishes_after_it(tmp_path: Path) -> None:
    # Break: _Run.record without `self.cuts_seen = self.limiter.cuts` (the rate line after every task).
    limiter = AdaptiveLimiter(4)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.5)  # one 429: one cut
    source = write_input(tmp_path / "in.jsonl", [])
    output, err = open_output(str(tmp_path / "out.jsonl"), io.StringIO(), str(source)), io.StringIO()
    run = _Run(Progress(3, 0.0), limiter, output, {}, err, tty=False)
    for task_id in ("a", "b", "c"):
        run.record(BatchOutcome(task_id, "failed", error=InternalServerError("boom", status_code=500)))
    output.close()
    assert err.getvalue().count("rate-limited by the service") == 1, err.getvalue()
    assert len(err.getvalue().splitlines()) == 4


def test_the_exit_code_counts_only_the_tasks_of_input_not_other_ids_output_holds(tmp_path: Path, keyed: None) -> None:
    # Break: _exit_code over every line of OUTPUT (a failure of another input's task would give exit 1).
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    out.write_text('{"id":"elsewhere","status":"failed","error":{"type":"BadRequestError"}}\n', encoding="utf-8")
    with Emulator() as emu:
        code = main(
            ["batch", str(source), "-o", str(out), "--base-url", emu.base_url],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert code == 0
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["elsewhere", "a"]


class _FailingAtTheAnnouncement(io.StringIO):
    """Standard error that fails (EIO) at the batch's first line, then takes main's error line."""

    def write(self, text: str) -> int:
        if text.startswith("Batch:"):
            raise OSError(errno.EIO, "Input/output error")
        return super().write(text)


def test_without_rich_a_terminal_sees_the_status_and_an_unfinished_line_of_reasoning_at_once() -> None:
    # Break: PlainLive.status or .reasoning without `self.out.flush()`: neither ends with a newline on a
    # terminal (whose stderr is line-buffered), so it would stay out of sight until the next newline.
    out = _FlushedTerminal()
    live = PlainLive(out, show_reasoning=True)
    live.status("running code #1")
    assert out.seen[-1].endswith("\033[2m… running code #1\033[0m")
    live.reasoning("Let me compute it", new_block=True)
    assert out.seen[-1].endswith("\n[thinking]\nLet me compute it")


def test_with_rich_the_running_code_is_drawn_as_soon_as_it_arrives_not_at_the_next_refresh_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break: RichLive.running without `self._progress.refresh()` (the code shown only by rich's own
    # refresh thread, up to a tick later). Counted: the redraws asked for by the caller's thread.
    pytest.importorskip("rich")
    from rich.progress import Progress as RichProgress

    asked: list[str] = []
    plain_refresh = RichProgress.refresh

    def refresh(self: RichProgress) -> None:
        if threading.current_thread() is threading.main_thread():
            asked.append("refresh")
        plain_refresh(self)

    monkeypatch.setattr(RichProgress, "refresh", refresh)
    monkeypatch.setenv("TERM", "xterm-256color")
    live = RichLive(_FlushedTerminal(), show_reasoning=False)
    try:
        before = len(asked)
        live.running(CodeRunUpdated(0, "x = 6 * 7", is_new=True))
        assert len(asked) == before + 1
    finally:
        live.end()


def test_a_batch_stopped_before_it_sends_anything_leaves_no_output_descriptor_open(tmp_path: Path, keyed: None) -> None:
    # Break: batch()'s `finally: output.close()` dropped (run_batch fails before its own try).
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    err = _FailingAtTheAnnouncement()
    with Emulator() as emu:
        code = main(
            ["batch", str(source), "-o", str(out), "--base-url", emu.base_url], stdout=io.StringIO(), stderr=err
        )
    assert out.exists() and _open_on(out) == 0
    assert code == 2 and "Input/output error" in err.getvalue()


def test_run_batch_closes_the_output_it_was_given(tmp_path: Path) -> None:
    # Break: run_batch's `finally: output.close()` dropped (its caller, batch(), closes it too; run_batch is public).
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    tasks = read_tasks(source.read_text(encoding="utf-8").splitlines())
    with Emulator() as emu:
        client = AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url)
        output = open_output(str(out), io.StringIO(), str(source))
        assert _open_on(out) == 1
        code = run_batch(client, tasks, output, 1, io.StringIO(), "to the emulator", retry_failed=False)
    assert code == 0 and _open_on(out) == 0


def test_reading_output_back_leaves_no_descriptor_and_a_line_another_writer_appended_is_kept(tmp_path: Path) -> None:
    # Breaks: OUTPUT opened without O_APPEND (the next line would go where this run's reading ended);
    # previous() opening its duplicate with closefd=False (a descriptor leaked per run).
    path = tmp_path / "o.jsonl"
    path.write_text('{"id":"old","status":"completed"}\n', encoding="utf-8")
    source = write_input(tmp_path / "in.jsonl", [{"id": "mine", "question": SEED_QUESTION}])
    output = open_output(str(path), io.StringIO(), str(source))
    assert list(output.previous()) == ["old"]
    assert _open_on(path) == 1  # reading it back left no descriptor of its own open
    with path.open("a", encoding="utf-8") as other:
        other.write('{"id":"other","status":"completed"}\n')
    output.write(BatchOutcome("mine", "failed", error=Interrupted("stopped")))
    output.close()
    ids = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert ids == ["old", "other", "mine"]


# --- FILE arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["ask", "--emulator", "--record", "", SEED_QUESTION], "--record"),
        (["ask", "--emulator", "--export", "", SEED_QUESTION], "--export"),
        (["batch", "", "-o", "out.jsonl"], "INPUT.jsonl"),
        (["batch", "in.jsonl", "-o", ""], "-o/--output"),
        (["replay", ""], "FILE"),
    ],
    ids=["record", "export", "batch-input", "batch-output", "replay"],
)
def test_an_empty_file_argument_is_refused_with_exit_2_naming_it_before_anything_runs(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # An unset shell variable (`--record "$FILE"`) must not pass as "no recording wanted".
    with pytest.raises(SystemExit) as exited:
        main(argv, stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 2
    assert f"error: argument {named}: expected a file name, got an empty string" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--record", "--export"])
def test_a_dash_for_a_file_written_beside_the_answer_is_refused_not_written_as_a_file_named_dash(
    flag: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer goes to standard output: "-" there would be a file named "-" in the working directory.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["ask", "--emulator", flag, "-", SEED_QUESTION], stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 2
    assert f"error: argument {flag}: expected a file name, got '-' (the answer goes to standard output)" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []
