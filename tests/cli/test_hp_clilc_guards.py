"""Hand breaks of ``qwen-ci`` (issue 26, hp-clilc): Ctrl-C and failures with each output option, the
first/last and fallback rules, the numbers printed. Each test fails with the break named in it."""

from __future__ import annotations

import errno
import io
import json
import os
import socket
from pathlib import Path

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.batch import Progress
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_batch_guards_sweep import _CtrlCAfterFirstLine


class _CtrlCWhenAnswering(io.StringIO):
    """Standard error (piped: plain stage lines) of a user who presses Ctrl-C as the answer begins: the
    code run and the first words of the answer have arrived."""

    def write(self, text: str) -> int:
        if text.startswith("[answering]"):
            raise KeyboardInterrupt
        return super().write(text)


def _ask(emu: Emulator, *argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = main(["ask", *argv, "--base-url", emu.base_url, SEED_QUESTION], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_ctrl_c_with_json_and_export_prints_the_partial_as_json_and_still_exports_it(
    emu: Emulator, keyed: None, tmp_path: Path
) -> None:
    # Breaks: `_export` skipped under --json in _keep_partial (the partial was lost from the file); the
    # JSON error's request_id None; the JSON's partial None; "interrupted" not said under --json.
    export = tmp_path / "run.md"
    code, out, err = _ask(emu, "--json", "--export", str(export), stderr=_CtrlCWhenAnswering())
    assert code == 130 and err.endswith("\ninterrupted\n") and f"Wrote {export}." in err
    data = json.loads(out)
    assert data["error"]["type"] == "Interrupted"
    assert data["partial"]["code_runs"][0]["code"] == "123**21"
    assert data["error"]["request_id"] and data["error"]["request_id"] == data["partial"]["request_id"]
    assert "123**21" in export.read_text(encoding="utf-8")


def test_ctrl_c_in_plain_output_names_ctrl_c_as_what_ended_the_partial(emu: Emulator, keyed: None) -> None:
    # Breaks: the partial printed as "What arrived before the failure"; exit 1 instead of 130.
    code, out, err = _ask(emu, stderr=_CtrlCWhenAnswering())
    assert code == 130 and err.endswith("\ninterrupted\n")
    assert out.startswith("What arrived before Ctrl-C (incomplete):\n\n") and "123**21" in out


def test_a_failure_with_json_and_export_exports_the_partial_and_puts_it_in_the_json(
    emu: Emulator, keyed: None, tmp_path: Path
) -> None:
    # Breaks: `_export` skipped under --json after a failure; the JSON's partial None.
    emu.add_fault(Fault.drop(after_events=48))
    export = tmp_path / "run.py"
    code, out, err = _ask(emu, "--json", "--export", str(export))
    data = json.loads(out)
    assert code == 1 and data["error"]["type"] == "StreamInterruptedError" and PLANTED_KEY not in out + err
    assert data["partial"]["code_runs"][0]["code"] == "123**21"
    assert "123**21" in export.read_text(encoding="utf-8")


def test_ctrl_c_after_a_task_failed_on_its_own_counts_only_the_stopped_call_as_in_flight(
    tmp_path: Path, keyed: None
) -> None:
    # Break: the calls in flight counted as every failure (`statuses["failed"]`), not the interrupted ones:
    # "a", refused before Ctrl-C, was told as a call in flight that the same command sends again.
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    # One start per 100 s: "b" is throttled (429) and waits its turn while "a" is refused.
    with Emulator(rate_limit=0.01, pace=0.002) as emu:
        emu.add_fault(Fault.status(400))
        err = _CtrlCAfterFirstLine()
        argv = ["batch", str(source), "-o", str(out), "--base-url", emu.base_url, "--max-retries", "0"]
        code = main(argv, stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert code == 130 and "[1/2] a failed: BadRequestError (not retryable)" in text, text
    assert text.endswith(
        f"Interrupted: what finished is in {out}; the 1 call(s) in flight are written as interrupted, with what "
        "they received. Run the same command again to resume (they are sent again).\n"
    )


def test_once_the_output_file_failed_the_calls_cancelled_in_flight_are_neither_written_nor_counted(
    tmp_path: Path, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break: `_Run.record` without its `if self.broken is not None: return` - each call cancelled after the
    # failed write was tried on the full disk again and counted as finished.
    tasks = [{"id": f"t{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(3)]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    out.write_bytes(b"")
    write, tried = os.write, []

    def full_disk(fd: int, data: bytes) -> int:  # the OUTPUT file's disk is full; every other write goes through
        if os.path.samestat(os.fstat(fd), os.stat(out)):
            tried.append(data)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with Emulator() as emu:
        # The first call begins its answer and stalls (in flight); the second, started once the first was
        # answered, is refused at once: its line is the first write, which fails.
        emu.add_fault(Fault.stall(after_events=2, seconds=60))
        emu.add_fault(Fault.status(400))
        err = io.StringIO()
        argv = ["batch", str(source), "-o", str(out), "--base-url", emu.base_url, "--concurrency", "3"]
        code = main(argv, stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert code == 1 and "This run: 1 of 3 finished: 0 completed, 0 incomplete, 1 failed (BadRequestError 1)" in text
    assert len(tried) == 1 and text.count("could not write to") == 1


@pytest.mark.parametrize(
    ("seconds", "shown"), [(65.0, "1m05s"), (3900.0, "1h05m"), (7199.0, "1h59m")], ids=["minutes", "hours", "almost-2h"]
)
def test_the_wall_time_gives_minutes_and_seconds_two_digits_after_the_first_unit(seconds: float, shown: str) -> None:
    # Breaks: `{secs:02d}` -> `{secs}` ("1m5s"); `{minutes:02d}` -> `{minutes}` ("1h5m").
    assert f"; wall time {shown}.\n" in Progress(total=1, started_at=0.0).summary(seconds)


def test_a_configuration_error_with_json_is_printed_as_json_and_exits_2(emu: Emulator) -> None:
    # Break: `_report_error` returning EXIT_FAILED after printing --json's error: a missing key (found when
    # the call starts) exited 1, as if the service had failed, instead of 2 (nothing was sent).
    code, out, err = _ask(emu, "--json")
    data = json.loads(out)
    assert code == 2 and data["error"]["type"] == "ConfigurationError" and data["partial"] is None
    assert emu.requests == [] and err == ""


def test_a_failed_tasks_log_line_gives_its_error_up_to_200_characters_cut_at_a_word_and_marked(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    # Break: `[:200]` -> `[:100]`: the log line cut the reason (what to fix) short; or the mark dropped.
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": "a", "question": SEED_QUESTION}) + "\n", encoding="utf-8")
    emu.add_fault(Fault.status(400))
    err = io.StringIO()
    code = main(["batch", str(source), "-o", str(out), "--base-url", emu.base_url], stdout=io.StringIO(), stderr=err)
    head = "[1/1] a failed: BadRequestError (not retryable): "
    line = next(line for line in err.getvalue().splitlines() if line.startswith(head))
    message = json.loads(out.read_text(encoding="utf-8"))["error"]["message"]
    assert code == 1 and len(message.splitlines()[0]) > 200
    first = message.splitlines()[0]
    kept = line.removeprefix(head).removesuffix(" [...]")
    assert line.endswith(" [...]") and first.startswith(kept + " ") and 190 <= len(kept) <= 200


class _StderrFailingAtTheFirstLine(io.StringIO):
    """Standard error that fails (an I/O error) when the first task's line is written."""

    def write(self, text: str) -> int:
        if text.startswith("[1/"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return super().write(text)


def test_a_batch_whose_standard_error_fails_stops_with_exit_2_not_a_silent_success(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    # Break: `_send` swallowing every OSError (not only OUTPUT's): the batch stopped after the first task
    # without a word and exited 0, the second task never sent.
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    err = _StderrFailingAtTheFirstLine()
    argv = ["batch", str(source), "-o", str(out), "--base-url", emu.base_url, "--concurrency", "1"]
    code = main(argv, stdout=io.StringIO(), stderr=err)
    assert code == 2 and err.getvalue().endswith("error: Input/output error\n")


class _FlushRecorder(io.StringIO):
    """Standard output that records how many lines it held at each flush (what a reader could see)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def flush(self) -> None:
        self.seen.append(self.getvalue().count("\n"))
        super().flush()


def test_a_batch_streaming_to_standard_output_flushes_each_line_as_its_task_finishes(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    # Break: `Output.write` without its flush: a program reading `-o -` got every line only at the end.
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    out = _FlushRecorder()
    argv = ["batch", str(source), "-o", "-", "--base-url", emu.base_url, "--concurrency", "1"]
    assert main(argv, stdout=out, stderr=io.StringIO()) == 0
    assert out.seen[:2] == [1, 2]


def test_replaying_a_file_of_blank_lines_says_it_is_empty(tmp_path: Path) -> None:
    # Break: `if not stream:` (not `stream.strip()`): a file of blank lines was told it holds no events, as if
    # it were some other file, instead of empty.
    blank = tmp_path / "blank.sse"
    blank.write_bytes(b"\n \r\n")
    err = io.StringIO()
    assert main(["replay", str(blank)], stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue() == f"error: {blank} is empty: there is no stream to replay.\n"


def test_the_doctor_names_a_failing_proxy_set_in_all_proxy_alone(
    emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break: `_proxy_for` reading only the scheme's variable, not ALL_PROXY: the proxy's failure was told as the
    # endpoint's.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{port}")
    out = io.StringIO()
    code = main(["doctor", "--json", "--base-url", emu.base_url], stdout=out, stderr=io.StringIO())
    reachable = next(c for c in json.loads(out.getvalue()) if c["name"] == "endpoint reachable")
    assert code == 1 and reachable["status"] == "fail"
    assert reachable["detail"].startswith(f"the proxy http://127.0.0.1:{port} between you and {emu.base_url} failed")
