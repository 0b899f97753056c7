"""The qwen-ci command line, as a user runs it: in-process through main() and as a real process."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .processes import clean_env, run_cli, run_python, start_cli


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_ask_with_the_emulator_prints_answer_code_and_usage_and_says_it_is_the_emulator() -> None:
    code, out, err = cli("ask", "--emulator", SEED_QUESTION)
    assert code == 0
    assert SEED_ANSWER in out and "123**21" in out and "997 total" in out
    assert "local emulator" in err and "[running code #1]" in err and "▶ code run #1" in err


def test_json_output_is_the_result_dict() -> None:
    code, out, _ = cli("ask", "--emulator", "--json", TWO_RUN_QUESTION)
    data = json.loads(out)
    assert code == 0 and data["status"] == "completed"
    assert [r["code"] for r in data["code_runs"]] == [
        "123**23",
        "1169008215014432917465348578887506800769541157267 / 5",
    ]
    assert data["usage"]["code_interpreter_calls"] == 2


def test_the_responses_protocol_shows_what_the_code_printed() -> None:
    code, out, err = cli("ask", "--emulator", "--protocol", "responses", TWO_RUN_QUESTION)
    assert code == 0 and "2.338016430028866e+47" in out and "output:" in err


def test_show_reasoning_streams_the_reasoning_and_includes_it() -> None:
    code, out, err = cli("ask", "--emulator", "--show-reasoning", SEED_QUESTION)
    assert code == 0 and "## Reasoning" in out and "[thinking]" in err


def test_a_stage_after_streamed_reasoning_starts_on_a_line_of_its_own() -> None:
    # The reasoning streams without a final newline; the next stage must not be glued to its last word.
    code, _, err = cli("ask", "--emulator", "--show-reasoning", SEED_QUESTION)
    assert code == 0
    assert "\n[running code #1]\n" in err and "\n[answering]\n" in err


def test_a_missing_key_exits_2_naming_the_variable_and_the_emulator() -> None:
    code, out, err = cli("ask", SEED_QUESTION)
    assert code == 2 and out == ""
    assert "DASHSCOPE_API_KEY" in err and "--emulator" in err


def test_bad_settings_exit_2_with_the_fix() -> None:
    code, _, err = cli("ask", "--emulator", "--idle-timeout", "-1", "q")
    assert code == 2 and "--idle-timeout must be a positive number" in err


def test_a_service_error_exits_1_with_the_message(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    emu.add_fault(Fault.status(401))
    code, out, err = cli("ask", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 1 and "InvalidApiKey" in err and "DASHSCOPE_API_KEY" in err
    assert PLANTED_KEY not in out + err


@pytest.mark.parametrize(
    ("variable", "place"),
    [
        ("DASHSCOPE_API_KEY", "the DASHSCOPE_API_KEY environment variable"),
        ("QWEN_CI_API_KEY", "the QWEN_CI_API_KEY environment variable"),
        ("DASHSCOPE_API_KEY_FILE_PATH", "the file that DASHSCOPE_API_KEY_FILE_PATH names"),
    ],
)
def test_a_refused_key_is_named_where_it_came_from(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, place: str
) -> None:
    if variable == "DASHSCOPE_API_KEY_FILE_PATH":
        (tmp_path / "key").write_text(PLANTED_KEY + "\n")
        monkeypatch.setenv(variable, str(tmp_path / "key"))
    else:
        monkeypatch.setenv(variable, PLANTED_KEY)
    emu.add_fault(Fault.status(401))
    code, out, err = cli("ask", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 1 and f"Check the API key in {place}" in err
    if variable != "DASHSCOPE_API_KEY":
        assert "DASHSCOPE_API_KEY environment variable" not in err
    assert PLANTED_KEY not in out + err


def test_a_broken_stream_prints_what_arrived_and_exits_1(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    emu.add_fault(Fault.drop(after_events=48))
    code, out, err = cli("ask", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 1 and "What arrived before the failure" in out and "123**21" in out
    assert "error:" in err and "broke" in err


def test_a_stream_that_broke_while_thinking_still_prints_what_it_cost_and_its_request_id(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    emu.add_fault(Fault.drop(after_events=6))  # reasoning only: no answer, no code yet
    code, out, err = cli("ask", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 1 and "What arrived before the failure" in out and "(no answer text)" in out
    assert "reasoning), " in out and "request id " in out and "[thinking]" in err


def test_a_json_error_carries_the_partial(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    emu.add_fault(Fault.drop(after_events=30))
    code, out, _ = cli("ask", "--json", "--base-url", emu.base_url, SEED_QUESTION)
    data = json.loads(out)
    assert code == 1 and data["error"]["type"] == "StreamInterruptedError"
    assert data["partial"]["status"] == "incomplete" and data["partial"]["code_runs"][0]["code"] == "123**21"


def test_an_incomplete_answer_exits_3(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    emu.add_fault(Fault.finish_reason("length"))
    code, out, err = cli("ask", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 3 and "Incomplete result" in out and "stopped before finishing (finish reason: length)" in err


def test_record_saves_a_key_free_stream_that_replays_to_the_same_result(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    path = tmp_path / "run.sse"
    code, first, _ = cli("ask", "--json", "--record", str(path), "--base-url", emu.base_url, TWO_RUN_QUESTION)
    data = path.read_bytes()
    assert code == 0 and data.startswith(b"id:1\nevent:result\n")
    assert PLANTED_KEY.encode() not in data and b"uthorization" not in data
    emu.replay(path)
    code, second, _ = cli("ask", "--json", "--base-url", emu.base_url, "anything")
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "timings"}  # noqa: E731
    assert code == 0 and strip(first) == strip(second)


def test_record_to_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli("ask", "--emulator", "--record", str(tmp_path / "no" / "such" / "f.sse"), SEED_QUESTION)
    assert code == 2 and "No such file" in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full (a device that is always full) here")
def test_a_recording_that_cannot_be_written_stops_the_recording_not_the_call(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    code, out, err = cli("ask", "--record", "/dev/full", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 2 and SEED_ANSWER in out and "123**21" in out  # the billed call went on to its answer
    assert "could not write the recording to /dev/full (No space left on device): it is incomplete" in err
    assert len(emu.requests) == 1 and "Traceback" not in err


def test_models_lists_the_table() -> None:
    code, out, _ = cli("models")
    assert code == 0 and "qwen3-max-preview" in out and "qwen3.6-plus*" in out and "sent unchanged" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_python_dash_m_runs_the_cli_as_a_real_process() -> None:
    proc = run_cli("ask", "--emulator", SEED_QUESTION)
    assert proc.returncode == 0, proc.stderr
    assert SEED_ANSWER in proc.stdout and "emulator" in proc.stderr


def _ask_into(stdout: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``qwen-ci ask --emulator ARGS SEED_QUESTION`` as a real process whose standard output is *stdout*."""
    return _qwen_ci_into(stdout, "ask", "--emulator", *args, SEED_QUESTION)


def _qwen_ci_into(stdout: int, *argv: str) -> subprocess.CompletedProcess[str]:
    """``qwen-ci ARGV`` as a real process whose standard output is *stdout*, buffered as a user's is
    (what is still buffered at exit would fail again there)."""
    env = {name: value for name, value in clean_env().items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-m", "qwen_ci_tool", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _one_error_line(stderr: str, reason: str) -> str:
    errors = [line for line in stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"error: could not write to standard output ({reason}"), stderr
    return errors[0]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this platform")
@pytest.mark.parametrize("json_flag", [["--json"], []], ids=["json", "text"])
def test_a_full_standard_output_exits_2_with_one_line_saying_it_could_not_be_written(
    tmp_path: Path, json_flag: list[str]
) -> None:
    export = tmp_path / "run.md"
    with open("/dev/full", "w") as full:
        proc = _ask_into(full.fileno(), *json_flag, "--export", str(export))

    assert proc.returncode == 2
    line = _one_error_line(proc.stderr, "No space left on device")
    assert "--export" in line and "> result.json" in line
    assert SEED_ANSWER in export.read_text()  # the export is written all the same


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this platform")
def test_a_batch_streaming_to_a_full_standard_output_reports_it_once_and_leaves_no_traceback_at_exit(
    tmp_path: Path,
) -> None:
    tasks = tmp_path / "in.jsonl"
    tasks.write_text("".join(json.dumps({"id": f"t{i}", "question": SEED_QUESTION}) + "\n" for i in range(2)))
    with open("/dev/full", "w") as full:
        proc = _qwen_ci_into(full.fileno(), "batch", str(tasks), "-o", "-", "--emulator")

    assert proc.returncode == 1  # the batch's own report (it stopped); the exit flush no longer fails
    _one_error_line(proc.stderr, "No space left on device")


def test_a_closed_pipe_on_standard_output_exits_2_with_one_line_saying_it_could_not_be_written() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        proc = _ask_into(write, "--json")
    finally:
        os.close(write)

    assert proc.returncode == 2
    _one_error_line(proc.stderr, "Broken pipe" if os.name != "nt" else "")


def test_a_closed_pipe_under_another_command_says_the_reader_exited_not_that_room_ran_out() -> None:
    read, write = os.pipe()
    os.close(read)  # as `qwen-ci models | head -1` once head has exited
    try:
        proc = _qwen_ci_into(write, "models")
    finally:
        os.close(write)

    line = _one_error_line(proc.stderr, "Broken pipe" if os.name != "nt" else "")
    assert proc.returncode == 2 and "room" not in line and "> FILE) or to a program that reads all of it" in line


def test_the_emulator_command_serves_until_stopped() -> None:
    port = _free_port()
    proc = start_cli("emulator", "--port", str(port), stdout=subprocess.DEVNULL)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed once the port is bound
        assert f"http://127.0.0.1:{port}" in line
        base_url = f"http://127.0.0.1:{port}"
        ask = run_cli("ask", "--json", "--base-url", base_url, SEED_QUESTION, DASHSCOPE_API_KEY="sk-x")
        assert ask.returncode == 0, ask.stderr
        assert json.loads(ask.stdout)["code_runs"][0]["code"] == "123**21"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_emulator_command_takes_its_key_from_qwen_ci_emulator_key() -> None:
    port = _free_port()
    proc = start_cli("emulator", "--port", str(port), stdout=subprocess.DEVNULL, QWEN_CI_EMULATOR_KEY="sk-only-this")
    try:
        assert proc.stderr is not None
        assert "only the key given" in proc.stderr.readline()
        base_url = f"http://127.0.0.1:{port}"
        other = run_cli("ask", "--json", "--base-url", base_url, SEED_QUESTION, DASHSCOPE_API_KEY="sk-another")
        same = run_cli("ask", "--json", "--base-url", base_url, SEED_QUESTION, DASHSCOPE_API_KEY="sk-only-this")
        assert other.returncode == 1 and same.returncode == 0, same.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_retried_attempt_leaves_nothing_in_the_recording(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    from qwen_ci_tool import _constants

    monkeypatch.setattr(_constants, "INITIAL_RETRY_DELAY", 0.0)
    emu.add_fault(Fault.error_event(after_events=0, code="Throttling.RateQuota", status=429))
    path = tmp_path / "run.sse"
    code, _, _ = cli("ask", "--record", str(path), "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 0 and len(emu.requests) == 2
    data = path.read_bytes()
    assert b"Throttling" not in data and data.count(b"id:1\n") == 1 and data.startswith(b"id:1\nevent:result\n")


def test_a_dash_reads_the_question_from_standard_input() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["ask", "--emulator", "--json", "-"], stdin=io.StringIO(SEED_QUESTION + "\n"), stdout=out, stderr=err)
    assert code == 0 and SEED_ANSWER in json.loads(out.getvalue())["answer"]


def test_a_byte_order_mark_before_a_question_on_standard_input_is_not_sent() -> None:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO("\ufeff" + SEED_QUESTION + "\r\n")  # as Notepad or PowerShell save UTF-8
    code = main(["ask", "--emulator", "--json", "-"], stdin=stdin, stdout=out, stderr=err)
    assert code == 0 and SEED_ANSWER in json.loads(out.getvalue())["answer"]  # the seed question, recognised


def test_export_writes_a_runnable_script_a_notebook_and_markdown(tmp_path: Path) -> None:
    script, notebook, markdown = tmp_path / "run.py", tmp_path / "run.ipynb", tmp_path / "run.md"
    for path in (script, notebook, markdown):
        code, _, err = cli("ask", "--emulator", "--protocol", "responses", "--export", str(path), TWO_RUN_QUESTION)
        assert code == 0 and f"Wrote {path}" in err
    ran = run_python(str(script))
    assert ran.returncode == 0, ran.stderr
    # Running it prints what the sandbox printed: each run's bare last expression, as a notebook shows it.
    assert ran.stdout == "1169008215014432917465348578887506800769541157267\n2.338016430028866e+47\n"
    source = script.read_text()
    assert "_show(123**23)\n" in source and "# 2.338016430028866e+47" in source and "# Answer:" in source
    nb = json.loads(notebook.read_text())
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert nb["nbformat"] == 4 and ["".join(c["source"]) for c in code_cells] == [
        "123**23",
        "1169008215014432917465348578887506800769541157267 / 5",
    ]
    assert "".join(code_cells[1]["outputs"][0]["text"]) == "2.338016430028866e+47"
    assert "## Reasoning" in markdown.read_text() and "2.338016430028866e+47" in markdown.read_text()


def test_an_exported_notebook_gives_every_cell_the_unique_id_its_nbformat_4_5_requires(tmp_path: Path) -> None:
    notebook = tmp_path / "run.ipynb"
    code, _, _ = cli("ask", "--emulator", "--protocol", "responses", "--export", str(notebook), TWO_RUN_QUESTION)
    nb = json.loads(notebook.read_text())
    ids = [cell.get("id") for cell in nb["cells"]]
    assert code == 0 and (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert all(isinstance(i, str) and re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids), ids
    assert len(set(ids)) == len(ids) == len(nb["cells"])


def test_export_of_a_broken_stream_keeps_the_partial(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    emu.add_fault(Fault.drop(after_events=48))
    path = tmp_path / "partial.py"
    code, _, _ = cli("ask", "--export", str(path), "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 1 and "123**21" in path.read_text() and "status incomplete" in path.read_text()


def test_export_to_an_unknown_kind_of_file_is_refused_before_asking() -> None:
    code, _, err = cli("ask", "--emulator", "--export", "run.docx", SEED_QUESTION)
    assert code == 2 and ".py, .ipynb, .md" in err


@pytest.mark.parametrize("where", ["missing directory", "a directory"])
def test_an_export_that_cannot_be_written_is_refused_before_asking(
    where: str, tmp_path: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    path = tmp_path / "nowhere" / "run.py" if where == "missing directory" else tmp_path / "run.py"
    if where == "a directory":
        path.mkdir()
    code, out, err = cli("ask", "--export", str(path), "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 2 and f"--export {path}: " in err and "Nothing was sent" in err
    why = "its directory does not exist" if where == "missing directory" else "that is a directory"
    assert f"--export {path}: {why}; give a file in an existing directory. Nothing was sent." in err
    assert out == "" and emu.requests == []


def _ctrl_c_once_the_answer_began(emu: Emulator, *args: str) -> tuple[int, str, str]:
    """``qwen-ci ask ARGS`` against *emu*: once the answer has begun, the service goes silent and the
    user presses Ctrl-C (a real SIGINT). The exit code, stdout and stderr."""
    emu.add_fault(Fault.stall(after_events=50, seconds=60))
    proc = start_cli("ask", *args, "--base-url", emu.base_url, SEED_QUESTION, DASHSCOPE_API_KEY=PLANTED_KEY)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # stages as plain lines (stderr is not a terminal); bounded by the stall
            seen.append(line)
            if line.startswith("[answering]"):
                break
        assert seen and seen[-1].startswith("[answering]"), seen
        assert emu.wait_for_connections(1, timeout=10)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert emu.wait_for_connections(0, timeout=10), "the upstream request was closed"
    return proc.returncode, out, err


def test_ctrl_c_during_the_answer_prints_and_exports_what_arrived_and_exits_130(emu: Emulator, tmp_path: Path) -> None:
    export = tmp_path / "part.md"
    code, out, err = _ctrl_c_once_the_answer_began(emu, "--export", str(export))
    assert code == 130, err
    # The answer had begun (how much of it the client read before the signal varies).
    assert "What arrived before Ctrl-C" in out and "## Answer\n\n12" in out and "123**21" in out
    text = export.read_text(encoding="utf-8")
    assert "123**21" in text and "Incomplete result" in text and "## Answer\n\n12" in text
    assert "interrupted" in err and "Traceback" not in err


def test_ctrl_c_with_json_prints_the_interruption_and_the_partial_as_json(emu: Emulator) -> None:
    code, out, err = _ctrl_c_once_the_answer_began(emu, "--json")
    assert code == 130, err
    data = json.loads(out)
    assert data["error"]["type"] == "Interrupted" and data["error"]["retryable"] is True
    assert "Ctrl-C" in data["error"]["message"] and "billed again" in data["error"]["message"]
    assert data["partial"]["code_runs"][0]["code"] == "123**21" and data["partial"]["answer"].startswith("12")
    assert data["partial"]["usage"]["total_tokens"] > 0 and PLANTED_KEY not in out + err
    assert data["error"]["request_id"] == data["partial"]["request_id"] and data["error"]["request_id"]


def test_the_emulator_command_takes_a_start_quota_with_a_burst() -> None:
    port = _free_port()
    proc = start_cli(
        "emulator", "--port", str(port), "--rate-limit", "0.1", "--rate-burst", "2", stdout=subprocess.DEVNULL
    )
    try:
        assert proc.stderr is not None
        assert f"http://127.0.0.1:{port}" in proc.stderr.readline()
        url = f"http://127.0.0.1:{port}/api/v1/services/aigc/text-generation/generation"
        body = {"model": "qwen3-max", "input": {"messages": [{"role": "user", "content": "hi"}]}, "parameters": {}}
        with httpx.Client(timeout=10) as http:
            codes = [http.post(url, json=body, headers={"Authorization": "Bearer sk-x"}).status_code for _ in range(3)]
        assert 429 not in codes[:2] and codes[2] == 429  # a burst of two, then one every 10 s
    finally:
        proc.terminate()
        proc.wait(timeout=10)
