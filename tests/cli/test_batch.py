"""``qwen-ci batch`` against the emulator: input checked before sending, one output line per task
under random faults, resuming (after a real SIGKILL too), --retry-failed, progress and summary."""

from __future__ import annotations

import errno
import io
import json
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.batch import _state_of
from qwen_ci_tool.cli.batch_output import LineState
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault
from tests.conftest import PLANTED_KEY

from .processes import run_cli, run_python, start_cli

pytestmark = pytest.mark.usefixtures("no_backoff")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def write_input(path: Path, tasks: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    return path


def batch(*args: str, stderr: io.StringIO | None = None) -> tuple[int, str]:
    err = stderr if stderr is not None else io.StringIO()
    code = main(["batch", *args], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def questions_sent(emu: Emulator, since: int = 0) -> list[str]:
    return [r.json["input"]["messages"][-1]["content"] for r in emu.requests[since:]]


# --- input checked before anything is sent --------------------------------------------------------


def test_every_input_problem_is_reported_by_line_number_and_nothing_is_sent(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "question": "fine"}\n'
        "{not json\n"
        '{"id": "a", "question": "again"}\n'
        '{"id": "b"}\n'
        "\n"
        '{"id": 7, "question": "x"}\n'
        '{"id": "c", "messages": [{"role": "tool", "content": "x"}]}\n'
        '["a list"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 2 and "6 problems; nothing was sent" in err
    assert "line 2: not valid JSON" in err
    assert 'line 3: duplicate id "a" (first on line 1)' in err
    assert 'line 4: task "b" has neither "question" nor "messages"' in err
    assert 'line 6: "id" must be a non-empty string, got 7 (write "id": "7")' in err
    assert "line 7: task \"c\": messages[0] has role 'tool'" in err
    assert "line 8: a JSON list" in err
    assert emu.requests == [] and not out.exists()


def test_an_input_saved_with_a_byte_order_mark_and_crlf_line_ends_is_read(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"id": "a", "question": "1+1"}\r\n{"id": "b", "question": "2+2"}\r\n')
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0, err
    assert sorted(line["id"] for line in lines(out)) == ["a", "b"] and questions_sent(emu) in (
        ["1+1", "2+2"],
        ["2+2", "1+1"],
    )


def test_without_a_key_the_batch_stops_before_sending_and_names_the_fix(tmp_path: Path, emu: Emulator) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    code, err = batch(str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", emu.base_url)
    assert code == 2 and "DASHSCOPE_API_KEY" in err and "--emulator" in err
    assert emu.requests == [] and not (tmp_path / "out.jsonl").exists()


def test_a_bad_concurrency_is_refused(tmp_path: Path, keyed: None) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    code, err = batch(str(source), "-o", str(tmp_path / "out.jsonl"), "--concurrency", "0")
    assert code == 2 and "--concurrency must be a whole number >= 1" in err


# --- random faults: one line per task, nothing re-sent once completed --------------------------------

_BENIGN = {"unknown_fields", "keepalive", "pieces", "line_endings"}


def _fault_plan(rng: random.Random) -> list[Fault]:
    """A random queue of faults, one per request in arrival order (then no fault at all)."""
    plan: list[Fault] = []
    while len(plan) < 150:
        roll = rng.random()
        if roll < 0.06:
            plan += [Fault.status(429, retry_after="0")] * rng.randint(3, 9)  # a storm
        elif roll < 0.12:
            plan.append(Fault.status(rng.choice([500, 502, 503])))
        elif roll < 0.17:
            plan.append(Fault.drop(after_events=rng.randint(0, 30)))
        elif roll < 0.20:
            plan.append(Fault.error_event(after_events=rng.randint(1, 20)))
        else:
            plan.append(
                rng.choice(
                    [Fault.unknown_fields(), Fault.keepalive(), Fault.chunks([1, 7, 3]), Fault.line_endings("\r\n")]
                )
            )
    plan.insert(rng.randint(0, 50), Fault.stall(after_events=2, seconds=30))
    return plan


# Two batches of 200 calls: 15-20 s on a quiet machine, over 60 s on a loaded one (a bound, not a speed test).
@pytest.mark.timeout(240)
def test_200_tasks_under_random_faults_end_with_one_line_each_and_none_is_sent_after_completing(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    rng = random.Random(13)
    plan = _fault_plan(rng)
    for fault in plan:
        emu.add_fault(fault)
    tasks = [{"id": f"q{i:03d}", "question": f"Task {i}: what is {i} squared?"} for i in range(200)]
    for i in (190, 195, 199):  # sent after the queue of faults ran out: refused, every time
        tasks[i]["question"] += " #fault=400"
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    common = ("-o", str(out), "--base-url", emu.base_url, "--concurrency", "8", "--idle-timeout", "0.5")

    code, err = batch(str(source), *common)
    written = lines(out)
    assert code == 1  # some failed
    assert sorted(line["id"] for line in written) == [t["id"] for t in tasks]
    assert {line["status"] for line in written} <= {"completed", "failed"}
    assert all((line["error"] is None) == (line["status"] == "completed") for line in written)
    assert any(line["error"]["type"] == "APITimeoutError" for line in written if line["error"])  # the stall

    # Request k took plan[k]; a completed task's only clean request is its last one.
    question_of = {t["question"]: t["id"] for t in tasks}
    requests_by_id: dict[str, list[int]] = {}
    for k, question in enumerate(questions_sent(emu)):
        requests_by_id.setdefault(question_of[question], []).append(k)
    clean = lambda k: k >= len(plan) or plan[k].kind in _BENIGN  # noqa: E731
    for line in written:
        sent = requests_by_id[line["id"]]
        if line["status"] == "completed":
            assert [k for k in sent if clean(k)] == [sent[-1]], line["id"]
    assert "This run: 200 of 200 finished" in err and "failed (" in err

    # A second run sends the retryable failures again (--retry-failed), and nothing else.
    before = len(emu.requests)
    failed = {line["id"]: line for line in written if line["status"] == "failed"}
    retryable = {i for i, line in failed.items() if line["error"]["retryable"]}
    permanent = set(failed) - retryable
    assert retryable and permanent
    code, err = batch(str(source), *common, "--retry-failed")
    resent = {question_of[q] for q in questions_sent(emu, before)}
    assert resent == retryable
    assert f"{len(permanent)} failed for good" in err
    # The command's own verdict on OUTPUT: every retried task completed (its last line wins), the
    # permanent failures remain, so the exit code is still 1.
    assert code == 1 and f"{out}: {200 - len(permanent)} completed, 0 incomplete, {len(permanent)} failed." in err


def test_the_last_line_for_an_id_wins_when_resuming(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    failed = {"type": "InternalServerError", "message": "boom", "request_id": None, "retryable": True}
    out.write_text(
        json.dumps({"id": "a", "status": "completed", "result": None, "error": None})
        + "\n"
        + json.dumps({"id": "a", "status": "failed", "result": None, "error": failed})
        + "\n"
        + json.dumps({"id": "b", "status": "failed", "result": None, "error": failed})
        + "\n"
        + json.dumps({"id": "b", "status": "completed", "result": None, "error": None})
        + "\n",
        encoding="utf-8",
    )
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 1 and "sending 0 (1 already done in" in err and emu.requests == []  # "a" failed last
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--retry-failed")
    assert code == 0 and questions_sent(emu) == [SEED_QUESTION]  # only "a" was sent again


def test_incomplete_answers_without_failures_exit_3(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    tasks = [{"id": "ok", "question": SEED_QUESTION}, {"id": "cut", "question": "y #fault=length"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 3 and "1 completed, 1 incomplete, 0 failed." in err
    code, _ = batch(str(source), "-o", str(out), "--base-url", emu.base_url)  # resumed: nothing sent, still 3
    assert code == 3 and len(emu.requests) == 2


# --- OUTPUT: a regular file, standard output, or refused ------------------------------------------


@pytest.mark.parametrize("kind", ["/dev/full", "/dev/zero", "a directory", "a pipe"])
def test_an_output_that_is_not_a_file_is_refused_before_anything_is_sent(
    kind: str, tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    target = kind
    if kind == "a directory":
        target = str(tmp_path)
    elif kind == "a pipe":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)
    code, err = batch(str(source), "-o", target, "--base-url", emu.base_url)
    assert code == 2 and f"OUTPUT {target} is " in err and "not a file" in err
    assert "-o -" in err and "Nothing was sent" in err and emu.requests == []


@pytest.mark.parametrize("name", ["in.jsonl", "link.jsonl"])
def test_an_output_that_is_the_input_file_is_refused_and_the_tasks_are_left_as_they_were(
    name: str, tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = tmp_path / "in.jsonl"
    tasks = '{"id": "a", "question": "1+1"}\n{"id": "b", "question": "2+2"}'  # no newline after the last task
    source.write_text(tasks, encoding="utf-8")
    (tmp_path / "link.jsonl").symlink_to(source)
    code, err = batch(str(source), "-o", str(tmp_path / name), "--base-url", emu.base_url)
    assert code == 2 and f"is INPUT {source}" in err and "-o results.jsonl" in err and "Nothing was sent" in err
    assert source.read_text(encoding="utf-8") == tasks and emu.requests == []


def test_output_to_standard_output_when_it_is_a_pipe_is_refused_with_the_fix(tmp_path: Path, emu: Emulator) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    # run_cli captures stdout, a pipe: /dev/stdout cannot be read back to resume.
    ran = run_cli("batch", str(source), "-o", "/dev/stdout", "--base-url", emu.base_url, DASHSCOPE_API_KEY="sk-test")
    assert ran.returncode == 2 and "is a pipe" in ran.stderr and "-o -" in ran.stderr
    assert ran.stdout == "" and emu.requests == []


def test_dash_streams_the_lines_to_standard_output_and_resumes_nothing(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    tasks = [{"id": f"t{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(3)]
    source = write_input(tmp_path / "in.jsonl", tasks)
    for run in (1, 2):
        out, err = io.StringIO(), io.StringIO()
        code = main(["batch", str(source), "-o", "-", "--base-url", emu.base_url], stdout=out, stderr=err)
        printed = [json.loads(line) for line in out.getvalue().splitlines()]
        assert code == 0 and sorted(line["id"] for line in printed) == ["t0", "t1", "t2"]
        assert "sending 3 to" in err.getvalue() and "standard output: 3 completed" in err.getvalue()
        assert len(emu.requests) == 3 * run  # nothing is resumed from standard output
    assert os.listdir(tmp_path) == ["in.jsonl"]


class _FullAfterOneLine(io.StringIO):
    """Standard output on a device that fills up after the first line (``-o - > /dev/full``, a full disk)."""

    def write(self, text: str) -> int:
        if self.getvalue():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(text)


def test_output_that_cannot_be_written_stops_the_batch_and_says_so_without_a_traceback(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    tasks = [{"id": f"t{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(4)]
    source = write_input(tmp_path / "in.jsonl", tasks)
    out, err = _FullAfterOneLine(), io.StringIO()
    args = ["batch", str(source), "-o", "-", "--concurrency", "1", "--base-url", emu.base_url]
    code = main(args, stdout=out, stderr=err)
    assert code == 1 and len(out.getvalue().splitlines()) == 1
    assert "error: could not write to standard output (No space left on device): the batch stopped" in err.getvalue()
    assert (
        "the same command sends every task again" in err.getvalue() and "(-o results.jsonl) to resume" in err.getvalue()
    )
    assert "Traceback" not in err.getvalue() and "a file resumes where it stopped" not in err.getvalue()
    assert "This run: 2 of 4 finished" in err.getvalue()  # the unwritten outcome was billed: it is counted
    assert len(emu.requests) == 2  # nothing is sent once OUTPUT is broken


def test_a_line_longer_than_any_output_line_is_skipped_without_being_read_whole(
    tmp_path: Path, emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwen_ci_tool.cli import batch_output

    monkeypatch.setattr(batch_output, "MAX_LINE_BYTES", 256)
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    done = json.dumps({"id": "a", "status": "completed", "result": None, "error": None})
    out.write_text("x" * 10_000 + "\n" + done + "\n", encoding="utf-8")
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and "sending 1 (1 already done in" in err and questions_sent(emu) == [SEED_QUESTION + "?"]


def test_a_second_run_resumes_and_sends_only_what_is_missing(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    tasks = [{"id": f"t{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(6)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    write_input(tmp_path / "in3.jsonl", tasks[:3])
    assert batch(str(tmp_path / "in3.jsonl"), "-o", str(out), "--base-url", emu.base_url)[0] == 0
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and "sending 3 (3 already done in" in err
    assert sorted(questions_sent(emu, 3)) == sorted(t["question"] for t in tasks[3:])
    # the progress counts what this run sends, not the whole input (audit 6's l01)
    assert "[3/3] " in err and "/6] " not in err and "This run: 3 of 3 finished" in err
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and "sending 0" in err and len(emu.requests) == 6
    assert sorted(line["id"] for line in lines(out)) == [t["id"] for t in tasks]


def test_a_line_cut_by_a_crash_is_dropped_and_its_task_sent_again(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    out.write_text(
        '{"id": "a", "status": "completed", "result": {}, "error": null}\n{"id": "b", "status": "comp', encoding="utf-8"
    )
    code, _ = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and questions_sent(emu) == [SEED_QUESTION + "?"]
    assert [line["id"] for line in lines(out)] == ["a", "b"]


def test_a_line_the_batch_wrote_cut_short_anywhere_past_its_start_is_dropped(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "out.jsonl"
    assert batch(str(source), "-o", str(out), "--base-url", emu.base_url)[0] == 0
    whole = out.read_bytes()
    for cut in (7, len(whole) // 2, len(whole) - 2):  # the newline and the closing brace gone, too
        out.write_bytes(whole + whole[:cut])
        code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
        assert code == 0 and "sending 0" in err and out.read_bytes() == whole, cut


def test_an_existing_file_of_another_kind_keeps_its_last_line_when_results_are_appended(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "notes.txt"
    out.write_text("my notes\nthe last line, without its newline", encoding="utf-8")
    code, _ = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    text = out.read_text(encoding="utf-8")
    assert code == 0 and text.startswith("my notes\nthe last line, without its newline\n")
    assert json.loads(text.splitlines()[-1])["status"] == "completed"


def test_the_output_line_format_and_no_key_in_it(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    emu.add_fault(Fault.drop(after_events=20))
    source = write_input(tmp_path / "in.jsonl", [{"id": "only", "question": SEED_QUESTION}])
    out = tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--max-retries", "0")
    (line,) = lines(out)
    assert code == 1 and set(line) == {"id", "status", "result", "error"}
    assert line["status"] == "failed" and line["result"]["status"] == "incomplete"  # the partial is kept
    assert set(line["error"]) == {"type", "message", "request_id", "retryable"}
    assert line["error"]["type"] == "StreamInterruptedError" and line["error"]["retryable"] is True
    assert line["error"]["request_id"]
    assert PLANTED_KEY not in out.read_text() and PLANTED_KEY not in err


# --- progress and summary ---------------------------------------------------------------------------


def test_plain_lines_when_not_a_terminal_and_a_summary_by_status_error_and_token_kind(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    tasks = [
        {"id": "ok", "question": SEED_QUESTION},
        {"id": "bad", "question": "x #fault=400"},
        {"id": "cut", "question": "y #fault=length"},
    ]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 1 and "\r" not in err
    assert "ok completed · " in err and "bad failed: BadRequestError (not retryable)" in err and "cut incomplete" in err
    assert "This run: 3 of 3 finished: 1 completed, 1 incomplete, 1 failed (BadRequestError 1)" in err
    tokens = [r for r in lines(out) if r["result"]]
    total = sum(r["result"]["usage"]["total_tokens"] for r in tokens)
    reasoning = sum(r["result"]["usage"]["reasoning_tokens"] for r in tokens)
    assert f"{total:,} total" in err and f"({reasoning:,} of them reasoning)" in err and "wall time" in err
    assert "1 completed, 1 incomplete, 1 failed." in err


def test_a_progress_bar_on_a_terminal(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    tasks = [{"id": f"t{i}", "question": f"{SEED_QUESTION} {i}"} for i in range(4)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--concurrency", "2", stderr=_Terminal())
    assert code == 0
    bars = [b for b in err.split("\r\033[K") if b.startswith("[")]
    assert bars[-1].startswith("[" + "#" * 24 + "] 4/4 done · 0 failed · ")
    assert any("/4 done" in b and " in flight · " in b and " tokens · " in b and " elapsed" in b for b in bars)
    assert any(" left" in b for b in bars)
    assert "t0 completed" not in err  # no per-task lines on a terminal


def test_a_one_task_batch_on_a_terminal_fills_the_bar_counts_its_tokens_and_clears_it_for_the_summary(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, stderr=_Terminal())
    total = lines(out)[0]["result"]["usage"]["total_tokens"]
    bars = [b for b in err.split("\r\033[K") if b.startswith("[")]
    assert code == 0 and bars[-1].startswith("[" + "#" * 24 + "] 1/1 done · 0 failed · ")
    assert f" · {total:,} tokens · " in bars[-1] and "\r\033[KThis run: 1 of 1 finished" in err


def test_plain_lines_say_a_failure_is_retryable_end_each_line_and_mention_no_rate_limit_that_did_not_happen(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    emu.add_fault(Fault.drop(after_events=20))
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--max-retries", "0")
    assert code == 1 and "\n[1/1] a failed: StreamInterruptedError (retryable): " in err
    assert "\nThis run: 1 of 1 finished" in err and "rate-limited" not in err


# --- real processes: SIGKILL and Ctrl-C ---------------------------------------------------------------


def _start(source: Path, out: Path, base_url: str, concurrency: int = 2) -> subprocess.Popen[str]:
    command = ["batch", str(source), "-o", str(out), "--base-url", base_url, "--concurrency", str(concurrency)]
    return start_cli(*command, stdout=subprocess.DEVNULL, DASHSCOPE_API_KEY="sk-test")


def test_a_killed_run_resumes_without_repeating_completed_ids(tmp_path: Path, keyed: None) -> None:
    tasks = [{"id": f"k{i:02d}", "question": f"Task {i}"} for i in range(30)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    with Emulator(pace=0.005) as emu:  # about 0.2 s a task: the kill lands mid-run
        proc = _start(source, out, emu.base_url)
        try:
            assert emu.wait_for_requests(10, timeout=30)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            proc.kill()
        assert proc.returncode == -signal.SIGKILL
        first = lines(out)  # only whole lines: each is one write
        done = {line["id"] for line in first}
        assert 1 <= len(done) < 30 and all(line["status"] == "completed" for line in first)
        before = len(emu.requests)
        emu.pace = 0.0
        code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
        assert code == 0 and f"({len(done)} already done in" in err
        again = {q.split()[1] for q in questions_sent(emu, before)}
        assert not {f"k{int(n):02d}" for n in again} & done
        assert sorted(line["id"] for line in lines(out)) == [t["id"] for t in tasks]


def _ctrl_c(source: Path, out: Path, emu: Emulator, requests: int, concurrency: int = 2) -> str:
    """Run the batch against *emu* as a real process, press Ctrl-C (SIGINT) once *requests* calls
    have reached it, and check it exits 130; returns its stderr."""
    proc = _start(source, out, emu.base_url, concurrency=concurrency)
    try:
        assert emu.wait_for_requests(requests, timeout=30)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    return err


def test_ctrl_c_stops_cleanly_with_what_finished_written(tmp_path: Path) -> None:
    tasks = [{"id": f"c{i:02d}", "question": f"Task {i}"} for i in range(30)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    with Emulator(pace=0.005) as emu:
        err = _ctrl_c(source, out, emu, requests=6)
        assert "Interrupted: what finished is in" in err and "Run the same command again to resume" in err
        written = lines(out)
        done = [line for line in written if line["status"] == "completed"]
        stopped = [line for line in written if line["status"] != "completed"]
        assert 1 <= len(done) < 30 and f"{len(done)} completed" in err
        assert len(stopped) <= 2 and all(line["error"]["type"] == "Interrupted" for line in stopped)
        assert emu.wait_for_connections(0, timeout=5)  # the calls in flight were closed


def test_ctrl_c_writes_each_call_in_flight_as_interrupted_with_its_partial_and_counts_its_tokens(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    tasks = [{"id": f"s{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(4)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    with Emulator(call_seconds=120.0) as slow:  # each call streams at once, then waits two minutes for its end
        # The limiter starts the third call only once the first two have begun streaming.
        err = _ctrl_c(source, out, slow, requests=3, concurrency=3)
        assert slow.wait_for_connections(0, timeout=5)  # the calls in flight were closed
    written = {line["id"]: line for line in lines(out)}
    assert sorted(written) == ["s0", "s1", "s2"]  # every call in flight, none finished
    for line in written.values():
        assert line["status"] == "failed" and line["error"]["type"] == "Interrupted" and line["error"]["retryable"]
        if line["result"]:  # the error names the request its partial came from
            assert line["error"]["request_id"] and line["error"]["request_id"] == line["result"]["request_id"]
    assert written["s0"]["result"]["status"] == "incomplete" and written["s1"]["result"]["reasoning"]
    tokens = sum(line["result"]["usage"]["total_tokens"] for line in written.values() if line["result"])
    assert tokens > 0 and f"{tokens:,} total" in err  # the summary counts what the stopped calls cost
    assert "the 3 call(s) in flight are written as interrupted" in err
    assert "  3 were stopped while they ran: the same command sends them again.\n" in err
    assert "may succeed if sent again" not in err  # a call stopped midway is not a failure to retry

    # The same command sends them again (no --retry-failed needed), and the last line of each id wins.
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and "sending 4 (3 stopped while they ran before, sent again)" in err
    assert len(emu.requests) == 4 and "4 completed, 0 incomplete, 0 failed." in err


def test_ctrl_c_with_standard_output_says_the_same_command_sends_every_task_again(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": f"s{i}", "question": SEED_QUESTION} for i in range(4)])
    with Emulator(call_seconds=120.0) as slow:  # each call streams at once, then waits two minutes for its end
        command = ["batch", str(source), "-o", "-", "--base-url", slow.base_url, "--concurrency", "1"]
        proc = start_cli(*command, stdout=subprocess.DEVNULL, DASHSCOPE_API_KEY="sk-test")
        try:
            assert slow.wait_for_requests(1, timeout=30)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill()

    assert proc.returncode == 130, err
    assert "standard output is not read back, so the same command sends every task again" in err
    assert "To send the failed ones again: standard output is not read back" in err
    assert "resume (they are sent again)" not in err and "the same command sends them again" not in err


def test_the_batch_example_runs_against_the_emulator_and_its_checker_reads_the_output(tmp_path: Path) -> None:
    examples = Path(__file__).parents[2] / "examples" / "batch"
    out = tmp_path / "results.jsonl"
    code, err = batch(str(examples / "questions.jsonl"), "-o", str(out), "--emulator")
    assert code == 0 and "This run: 10 of 10 finished: 10 completed" in err
    checked = run_python(str(examples / "check.py"), str(examples / "questions.jsonl"), str(out))
    # Only the seed question has a recording; the emulator answers the others with a placeholder.
    assert "pow-123-21         right" in checked.stdout and "1 of 10 right" in checked.stdout


def test_a_throttled_batch_says_it_slowed_down_and_still_completes_every_task(tmp_path: Path, keyed: None) -> None:
    tasks = [
        {
            "id": f"r{i}",
            "messages": [{"role": "system", "content": "Be exact."}, {"role": "user", "content": f"Task {i}"}],
        }
        for i in range(16)
    ]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    # Starts 0.1 s apart at most: the batch's first eight start together, so some are refused however slow the
    # machine (at 400/s, 2.5 ms apart, a loaded machine spaced them out by itself and nothing was throttled).
    with Emulator(rate_limit=10.0) as emu:
        code, err = batch(
            str(source), "-o", str(out), "--base-url", emu.base_url, "--concurrency", "8", "--max-retries", "0"
        )
        assert emu.throttled > 0
    assert code == 0 and "rate-limited by the service: starts now paced at " in err
    assert "/s (throttled tasks are sent again)\n" in err
    assert sorted(line["id"] for line in lines(out)) == sorted(t["id"] for t in tasks)
    assert emu.requests[0].json["input"]["messages"][0] == {"role": "system", "content": "Be exact."}


def test_the_bar_counts_estimates_the_time_left_and_shows_a_slowed_limiter() -> None:
    from qwen_ci_tool import AdaptiveLimiter, BatchOutcome, InternalServerError
    from qwen_ci_tool.cli.batch import Progress

    limiter = AdaptiveLimiter(4)
    progress = Progress(total=10, started_at=100.0)
    assert progress.bar(100.0, limiter).endswith("0.0s elapsed")  # no estimate before a task ends
    progress.add(BatchOutcome("a", "failed", error=InternalServerError("boom", status_code=500)))
    progress.add(BatchOutcome("b", "failed", error=InternalServerError("boom", status_code=500)))
    limiter.start(0.0)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.5)
    bar = progress.bar(104.0, limiter)
    assert bar.startswith(
        "[####....................] 2/10 done · 2 failed · 1 in flight (rate-limited: starts paced at 1.9/s)"
    )
    assert bar.endswith("4.0s elapsed · ~16.0s left")
    assert "InternalServerError 2" in progress.summary(104.0)


def test_the_python_batch_example_runs_against_the_emulator(emu: Emulator) -> None:
    script = Path(__file__).parents[2] / "examples" / "batch" / "run_many.py"
    ran = run_python(str(script), DASHSCOPE_API_KEY="sk-test", DASHSCOPE_HTTP_BASE_URL=emu.base_url)
    assert ran.returncode == 0, ran.stderr
    printed = ran.stdout.splitlines()
    assert len(printed) == 10 and len(emu.requests) == 10
    assert any(
        line.startswith("pow-123-21 completed") and "77269364466549865653073473388030061522211723" in line
        for line in printed
    )


def test_the_python_batch_example_without_a_key_prints_why_each_task_failed_and_exits_1(emu: Emulator) -> None:
    script = Path(__file__).parents[2] / "examples" / "batch" / "run_many.py"
    ran = run_python(str(script), DASHSCOPE_HTTP_BASE_URL=emu.base_url)
    printed = ran.stdout.splitlines()
    assert ran.returncode == 1 and "10 of 10 tasks failed" in ran.stderr
    assert len(printed) == 10 and all("failed: ConfigurationError (not retryable): No API key." in p for p in printed)
    assert emu.requests == []


def test_a_failed_lines_message_names_the_flag_as_ask_json_does(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    emu.add_fault(Fault.stall(after_events=2, seconds=30))
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "q1", "question": SEED_QUESTION}]), tmp_path / "out.jsonl"

    code, _ = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--idle-timeout", "0.5")

    (line,) = lines(out)
    assert code == 1 and line["error"]["type"] == "APITimeoutError"
    assert "--idle-timeout" in line["error"]["message"] and "idle_timeout" not in line["error"]["message"]


def test_the_closing_tally_counts_calls_stopped_midway_apart_from_failures_worth_retrying() -> None:
    states = {
        "stopped": LineState("failed", retryable=True, interrupted=True),
        "throttled": LineState("failed", retryable=True),
        "done": LineState("completed"),
    }
    text = _state_of("out.jsonl", states)
    assert "out.jsonl: 1 completed, 0 incomplete, 2 failed." in text
    assert "  1 were stopped while they ran" in text and "  1 failed but may succeed if sent again" in text
    assert "failed for good" not in text  # none of the failures is permanent


def test_the_closing_tally_counts_as_failed_for_good_only_the_failures_not_worth_retrying() -> None:
    # audit 6's l02
    states = {
        "throttled": LineState("failed", retryable=True),
        "refused": LineState("failed", retryable=False),
        "filtered": LineState("failed", retryable=False),
    }
    text = _state_of("out.jsonl", states)
    assert "  1 failed but may succeed if sent again" in text and "  2 failed for good" in text
