"""Guards from the second mutation sweep of ``qwen-ci batch`` (issue 26): what a resumed run says it
sends and keeps, its closing tallies, its exit codes, and its OUTPUT. Each test here was checked to fail
with the mutant (one-line break) it names."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import socket
import stat
import threading
from pathlib import Path

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool.cli import batch_output
from qwen_ci_tool.cli.batch import read_tasks
from qwen_ci_tool.cli.batch_output import read_output
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from .conftest import help_text
from .test_batch import batch, lines, questions_sent, write_input

pytestmark = pytest.mark.usefixtures("no_backoff")


def _line(task_id: str, status: str, error: dict[str, object] | None = None) -> str:
    return json.dumps({"id": task_id, "status": status, "result": None, "error": error}) + "\n"


def _error(kind: str, retryable: bool) -> dict[str, object]:
    return {"type": kind, "message": "earlier", "request_id": None, "retryable": retryable}


def test_a_resumed_batch_names_what_it_keeps_and_what_it_sends_again_of_each_kind_of_earlier_line(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    throttled, refused = ["t1", "t2", "t3"], ["r1", "r2"]
    ids = ["done", "cut", "stopped", *throttled, *refused, "new"]
    source = write_input(tmp_path / "in.jsonl", [{"id": i, "question": f"{SEED_QUESTION} {i}"} for i in ids])
    out = tmp_path / "out.jsonl"
    out.write_text(
        _line("done", "completed")
        + _line("cut", "incomplete")
        + _line("stopped", "failed", _error("Interrupted", True))
        + "".join(_line(i, "failed", _error("RateLimitError", True)) for i in throttled)
        + "".join(_line(i, "failed", _error("BadRequestError", False)) for i in refused),
        encoding="utf-8",
    )
    common = ("-o", str(out), "--base-url", emu.base_url, "--concurrency", "3")

    code, err = batch(str(source), *common)
    first = err.splitlines()[0]
    assert first.startswith(
        f"Batch: 9 tasks; sending 2 (2 already done in {out}; 1 stopped while they ran before, sent again; "
        "3 failed before, not sent again without --retry-failed; 2 failed for good before, not sent again) to "
    )
    assert first.endswith(f" at {emu.base_url}, at most 3 at once.")
    assert sorted(questions_sent(emu)) == [f"{SEED_QUESTION} new", f"{SEED_QUESTION} stopped"]
    assert "This run: 2 of 2 finished: 2 completed, 0 incomplete, 0 failed; wall time " in err
    assert f"{out}: 3 completed, 1 incomplete, 5 failed.\n" in err
    assert "  3 failed but may succeed if sent again: run the same command with --retry-failed.\n" in err
    assert (
        "  2 failed for good (bad request, key, content filter, quota): they are not sent again, even with "
        "--retry-failed. Fix the task or the set-up, then remove its line from the output (or write to a new one) "
        "and run again.\n"
    ) in err
    assert "were stopped while they ran" not in err  # its last line is now completed
    assert code == 1  # the failures kept in OUTPUT still fail the batch

    code, err = batch(str(source), *common, "--retry-failed")
    assert err.startswith(
        f"Batch: 9 tasks; sending 3 (4 already done in {out}; 3 failed before and sent again (--retry-failed); "
        "2 failed for good before, not sent again) to "
    )
    assert sorted(questions_sent(emu, 2)) == [f"{SEED_QUESTION} {i}" for i in throttled]
    assert "This run: 3 of 3 finished: 3 completed" in err and f"{out}: 6 completed, 1 incomplete, 2 failed.\n" in err
    assert "may succeed if sent again" not in err and code == 1
    assert sorted(line["id"] for line in lines(out)[len(ids) - 1 :]) == ["new", "stopped", *throttled]  # appended


def test_a_batch_ending_with_a_retryable_failure_says_to_send_it_again_with_retry_failed(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    emu.add_fault(Fault.drop(after_events=20))
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "out.jsonl"
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--max-retries", "0")
    assert code == 1 and f"{out}: 0 completed, 0 incomplete, 1 failed.\n" in err
    assert "  1 failed but may succeed if sent again: run the same command with --retry-failed.\n" in err
    assert "failed for good" not in err and "stopped while they ran" not in err


def test_the_summary_names_each_kind_of_error_and_counts_every_kind_of_token_partials_included(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    emu.add_fault(Fault.drop(after_events=20))  # the first call: cut midway, its partial cost tokens
    tasks = [
        {"id": "dropped", "question": SEED_QUESTION},
        {"id": "ok", "question": SEED_QUESTION + "?"},
        {"id": "bad", "question": "x #fault=400"},
    ]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    common = ("--base-url", emu.base_url, "--concurrency", "1", "--max-retries", "0")
    code, err = batch(str(source), "-o", str(out), *common)
    spent = [line["result"]["usage"] for line in lines(out) if line["result"]]
    assert len(spent) == 2  # the completed answer and the dropped call's partial
    total = {kind: sum(usage[kind] for usage in spent) for kind in spent[0]}
    assert code == 1 and "This run: 3 of 3 finished: 1 completed, 0 incomplete, 2 failed " in err
    assert " failed (StreamInterruptedError 1, BadRequestError 1); wall time " in err
    assert (
        f"Tokens: {total['input_tokens']:,} input, {total['output_tokens']:,} output "
        f"({total['reasoning_tokens']:,} of them reasoning), {total['total_tokens']:,} total; "
        f"{total['code_interpreter_calls']:,} interpreter runs (free; the tokens are what the run costs).\n"
    ) in err
    assert all(total[kind] > 0 for kind in ("input_tokens", "output_tokens", "code_interpreter_calls"))


def test_output_lines_are_compact_json_with_the_text_in_utf_8(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "café", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    assert batch(str(source), "-o", str(out), "--base-url", emu.base_url)[0] == 0
    assert out.read_bytes().startswith('{"id":"café","status":"completed","result":{'.encode())


def test_resuming_reads_only_output_objects_with_a_string_id_and_a_known_status() -> None:
    states = read_output(
        [
            b"my notes, not JSON\n",
            b'["a", "list"]\n',
            b'{"status": "completed"}\n',
            b'{"id": 7, "status": "completed"}\n',
            b'{"id": "odd", "status": "pending"}\n',
            b'{"id": "ok", "status": "completed"}\n',
        ]
    )
    assert set(states) == {"ok"}


class _Recording(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int | None] = []

    def readline(self, size: int | None = -1) -> bytes:
        self.asked.append(size)
        return super().readline(size)


def test_a_line_longer_than_the_cap_is_read_in_pieces_no_longer_than_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_output, "MAX_LINE_BYTES", 16)
    file = _Recording(b"x" * 100 + b'\n{"id":"a"}\n')
    assert list(batch_output._lines(file)) == [b'{"id":"a"}\n']
    assert file.asked and all(size == 16 for size in file.asked)


def test_a_task_whose_id_is_not_utf_8_is_written_with_its_bytes_and_not_sent_again_on_resume(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    # A bug found by the sweep: the line was written, but read back as not UTF-8 and ignored, so every
    # resumed run sent (and billed) the task again.
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b'{"id": "caf\xe9", "question": "' + SEED_QUESTION.encode() + b'"}\n')  # Latin-1
    assert batch(str(source), "-o", str(out), "--base-url", emu.base_url)[0] == 0
    assert out.read_bytes().startswith(b'{"id":"caf\xe9","status":"completed"')
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url)
    assert code == 0 and "sending 0 (1 already done in" in err and len(emu.requests) == 1


def test_a_line_beginning_with_a_byte_order_mark_is_still_read() -> None:
    assert set(read_output([b'\xef\xbb\xbf{"id": "a", "status": "completed"}\n'])) == {"a"}


def test_an_output_that_is_a_directory_is_refused_with_what_to_write_to_instead(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    code, err = batch(str(source), "-o", str(tmp_path), "--base-url", emu.base_url)
    assert code == 2 and err == (
        f"error: OUTPUT {tmp_path} is a directory, not a file: a batch reads its OUTPUT back to resume and appends "
        "one line per task to it. Write to a file (-o results.jsonl), or stream the lines to standard output with "
        "-o - (nothing is resumed then). Nothing was sent.\n"
    )


def test_an_output_that_is_the_input_says_to_write_to_another_file(tmp_path: Path, emu: Emulator, keyed: None) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    code, err = batch(str(source), "-o", str(source), "--base-url", emu.base_url)
    assert code == 2 and err == (
        f"error: OUTPUT {source} is INPUT {source}: the results would be appended to the tasks. "
        "Write them to another file (-o results.jsonl). Nothing was sent.\n"
    )


def test_a_new_output_file_is_readable_by_others_and_executable_by_nobody(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    umask = os.umask(0o022)
    try:
        assert batch(str(source), "-o", str(out), "--base-url", emu.base_url)[0] == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def _ctrl_c_in_process(*args: str, calls: int, emu: Emulator) -> tuple[int, str]:
    """``qwen-ci batch *args`` in this process, with Ctrl-C (a real SIGINT) pressed once *calls* calls
    reached *emu*."""

    def press() -> None:
        if emu.wait_for_requests(calls, timeout=30):
            os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press)
    presser.start()
    try:
        return batch(*args, "--base-url", emu.base_url, "--concurrency", str(calls))
    finally:
        presser.join(timeout=30)


def test_ctrl_c_in_process_writes_the_calls_in_flight_as_stopped_and_says_the_same_command_resends_them(
    tmp_path: Path, keyed: None
) -> None:
    tasks = [{"id": f"s{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(4)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    with Emulator(call_seconds=120.0) as slow:  # each call streams at once, then waits two minutes for its end
        code, err = _ctrl_c_in_process(str(source), "-o", str(out), calls=3, emu=slow)
    assert code == 130 and len(lines(out)) == 3
    assert err.endswith(
        f"{out}: 0 completed, 0 incomplete, 3 failed.\n"
        "  3 were stopped while they ran: the same command sends them again.\n"
        f"Interrupted: what finished is in {out}; the 3 call(s) in flight are written as interrupted, with what "
        "they received. Run the same command again to resume (they are sent again).\n"
    )
    assert "This run: 3 of 4 finished: 0 completed, 0 incomplete, 3 failed (Interrupted 3)" in err


def test_ctrl_c_in_process_with_standard_output_says_the_same_command_sends_every_task_again(
    tmp_path: Path, keyed: None
) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": f"s{i}", "question": SEED_QUESTION} for i in range(2)])
    with Emulator(call_seconds=120.0) as slow:
        code, err = _ctrl_c_in_process(str(source), "-o", "-", calls=1, emu=slow)
    assert code == 130 and err.endswith(
        "standard output: 0 completed, 0 incomplete, 1 failed.\n"
        "  To send the failed ones again: standard output is not read back, so the same command sends every task "
        "again; write to a file (-o results.jsonl) to resume.\n"
        "Interrupted: what finished is in standard output; the 1 call(s) in flight are written as interrupted, with "
        "what they received; standard output is not read back, so the same command sends every task again; write "
        "to a file (-o results.jsonl) to resume.\n"
    )


def test_an_output_file_that_cannot_be_written_stops_the_batch_and_says_to_make_room_and_resume(
    tmp_path: Path, emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [{"id": f"t{i}", "question": f"{SEED_QUESTION} ({i})"} for i in range(3)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    out.write_bytes(b"")
    write = os.write

    def full_disk(fd: int, data: bytes) -> int:  # the OUTPUT file's disk is full; every other write goes through
        if os.path.samestat(os.fstat(fd), os.stat(out)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--concurrency", "1")
    assert code == 1 and err.endswith(
        f"error: could not write to {out} (No space left on device): the batch stopped there and the calls in "
        "flight were cancelled; the outcome that could not be written is lost. Make room (or choose another -o), "
        "then run the same command again: a file resumes where it stopped.\n"
    )
    assert "This run: 1 of 3 finished" in err and len(emu.requests) == 1


class _CtrlCAfterFirstLine(io.StringIO):
    """Standard error of a user who presses Ctrl-C as the first task's line appears."""

    def write(self, text: str) -> int:
        written = super().write(text)
        if text.startswith("[1/"):
            signal.raise_signal(signal.SIGINT)
        return written


def test_ctrl_c_with_no_call_in_flight_says_only_to_run_the_same_command_again(tmp_path: Path, keyed: None) -> None:
    tasks = [{"id": "a", "question": SEED_QUESTION}, {"id": "b", "question": SEED_QUESTION + "?"}]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    # One start per 100 s: "b" is throttled (429) at once and waits its turn, not in flight, while "a" streams.
    with Emulator(rate_limit=0.01, pace=0.002) as emu:
        err = _CtrlCAfterFirstLine()
        code, text = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--max-retries", "0", stderr=err)
    assert code == 130 and [line["id"] for line in lines(out)] == ["a"]
    assert text.endswith(f"Interrupted: what finished is in {out}. Run the same command again to resume.\n")


def test_input_problems_are_reported_under_the_input_files_name_with_the_shape_of_a_line(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{bad\n{"id": "ok", "question": "q"}\n[1]\n', encoding="utf-8")
    try:
        json.loads("{bad")
    except ValueError as exc:
        why = str(exc)
    code, err = batch(str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", emu.base_url)
    assert code == 2 and err == (
        f"error: {source} has 2 problems; nothing was sent. "
        'Each line must be {"id": "...", "question": "..."} (or "messages" instead of "question").\n'
        f"  line 1: not valid JSON ({why})\n"
        '  line 3: a JSON list, not an object with "id" and "question"\n'
    )


def test_read_tasks_calls_the_input_by_the_word_input_unless_given_its_name() -> None:
    with pytest.raises(ConfigurationError, match=r"^INPUT has 1 problem; nothing was sent"):
        read_tasks(["[1]"])


def test_a_batch_on_the_emulator_says_so_in_its_first_line(tmp_path: Path) -> None:
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    code, err = batch(str(source), "-o", str(out), "--emulator", "--concurrency", "2")
    assert code == 0 and err.startswith("Batch: 1 tasks; sending 1 to the local emulator, at most 2 at once.\n")


@pytest.mark.parametrize(("line", "shown"), [('{"question": "q"}', "null"), ('{"id": " ", "question": "q"}', '" "')])
def test_a_missing_or_blank_id_is_refused_with_no_hint_to_write_it_as_a_string(line: str, shown: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        read_tasks([line])
    assert caught.value.message.endswith(f'line 1: "id" must be a non-empty string, got {shown}')


def test_a_missing_input_file_is_named_in_one_plain_line_with_exit_2(tmp_path: Path, keyed: None) -> None:
    missing = tmp_path / "nothing.jsonl"
    code, err = batch(str(missing), "-o", str(tmp_path / "out.jsonl"))
    assert code == 2 and err == f"error: No such file or directory: {missing}\n"


def test_an_error_of_the_system_without_a_file_name_is_one_line_ending_in_its_reason() -> None:
    from qwen_ci_tool.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        err = io.StringIO()
        code = main(["emulator", "--port", str(taken.getsockname()[1])], stderr=err)
    assert code == 2 and err.getvalue().startswith("error: ") and err.getvalue().endswith("in use\n")
    assert err.getvalue().count("\n") == 1


class _CtrlCAtTheFirstLine(io.StringIO):
    """Standard error of a user who presses Ctrl-C as the batch announces itself, before anything is sent."""

    def write(self, text: str) -> int:
        if text.startswith("Batch: "):
            raise KeyboardInterrupt
        return super().write(text)


def test_ctrl_c_before_the_batch_sends_anything_exits_130_saying_interrupted(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])
    err = _CtrlCAtTheFirstLine()
    code, text = batch(str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", emu.base_url, stderr=err)
    assert code == 130 and text == "\ninterrupted\n" and emu.requests == []


def test_an_input_of_blank_lines_has_no_tasks_and_says_what_a_line_looks_like(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n  \n", encoding="utf-8")
    code, err = batch(str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", emu.base_url)
    assert code == 2 and emu.requests == []
    assert err == f'error: {source} has no tasks: write one JSON object per line, {{"id": "q1", "question": "..."}}.\n'


def test_the_batch_help_names_its_arguments_their_values_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "batch")
    assert text.startswith("usage: qwen-ci batch [-h] -o OUTPUT.jsonl [--concurrency N] [--retry-failed] ")
    assert 'INPUT.jsonl one task per line: {"id": "q1", "question": "..."} (or "messages")' in text
    assert (
        "-o OUTPUT.jsonl, --output OUTPUT.jsonl results, one line per task; ids completed here are not sent again"
        in text
    )
    assert (
        "--concurrency N calls at once at most (default 4); starts are paced below the service's rate limit as it "
        "is learnt from its 429s" in text
    )
    assert (
        "--retry-failed send again the tasks whose earlier failure is retryable (others are kept as they are)" in text
    )
    assert "--emulator answer from the local emulator: no key, no network, scripted answers" in text


def test_the_emulator_help_names_its_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "emulator")
    assert "--host HOST address to listen on (default 127.0.0.1)" in text
    assert "--port PORT port to listen on; 0 picks a free one (default 8765)" in text
    assert "--pace SECONDS pause between events, to watch the stages go by (default 0.0: no pause)" in text
    assert (
        "--code-pause SECONDS silence after the code of a run arrives, as while the sandbox executes it (default 0.0)"
        in text
    )
    assert "--rate-burst N starts allowed back to back within --rate-limit (default 1.0: evenly spaced)" in text
    assert "--call-seconds SECONDS make each call last this long: its last event comes then (default 0.0)" in text
    assert "--rate-limit N answer 429 with Retry-After above N call starts per second" in text


@pytest.mark.parametrize("command", ["ask", "replay"])
def test_ask_and_replay_help_names_how_a_result_is_shown(capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = help_text(capsys, command)
    assert "--json print the result (or the error) as JSON on stdout" in text
    assert "--show-reasoning stream the model's reasoning and include it in the result" in text
    assert (
        "--export FILE also write the run to FILE: .py (a script of the code runs), .ipynb (a notebook) or .md; "
        "written for a partial result too" in text
    )


def test_the_top_level_help_lists_each_command_with_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert text.startswith("usage: qwen-ci [-h] [--version] COMMAND ... Ask Qwen with its built-in code interpreter")
    for line in (
        "ask ask a question; stages stream live, the result is printed at the end",
        "batch run many tasks from a JSONL file; each result is appended to OUTPUT as it finishes; run again to resume",
        "replay show a stream saved by `ask --record FILE` again, as ask showed it: no key, no network",
        "emulator serve the local DashScope emulator until Ctrl-C",
        "models list the models the tool knows, with their protocols",
        "doctor check the set-up a call needs (key, region, endpoint, model), each with its fix; costs no tokens",
    ):
        assert line in text


def test_the_other_commands_help_names_their_own_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    ask = help_text(capsys, "ask")
    assert 'question the task, in words (e.g. "What is 123 to the power of 21?"); - reads it from standard input' in ask
    assert "--record FILE save the raw event stream (no headers, no key) for replay" in ask
    replay = help_text(capsys, "replay")
    assert "Replay a stream saved by `qwen-ci ask --record FILE`: the stages, the result, --json and --export" in replay
    assert "FILE the .sse file `ask --record` wrote" in replay
    assert "the protocol the stream was recorded over (default: recognised from the stream)" in replay
    assert "--json print the table as JSON (a list of objects)" in help_text(capsys, "models")
    assert "--json print the checks as JSON" in help_text(capsys, "doctor")
    assert "Serve the local emulator of the DashScope endpoints (native, Chat Completions, Responses)" in help_text(
        capsys, "emulator"
    )


def test_no_command_is_a_usage_error_naming_the_commands_not_a_served_emulator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qwen_ci_tool.cli import main

    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: qwen-ci [-h] [--version] COMMAND ...") and "required: COMMAND" in err


def test_version_prints_the_package_and_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    from qwen_ci_tool import __version__
    from qwen_ci_tool.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"qwen-ci-tool {__version__}\n"


def test_replay_refuses_a_protocol_it_does_not_know_naming_the_ones_it_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qwen_ci_tool.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["replay", str(tmp_path / "run.sse"), "--protocol", "grpc"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "invalid choice: 'grpc'" in err and "'dashscope', 'openai', 'responses'" in err
