"""Guards from the mutation sweep of the command line (issue 26): each test here fails with a mutant
of ``qwen_ci_tool/cli`` that the other tests let through, or with the gap it closes."""

from __future__ import annotations

import errno
import io
import json
import os
import re
from pathlib import Path

import pytest

from qwen_ci_tool import CodeRun
from qwen_ci_tool._model_table import MODELS, ordered
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.view import LiveView, PlainLive, RichLive
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault
from qwen_ci_tool.testing._script import Answer, Conversation, Delta

from ..conftest import PLANTED_KEY


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["ask", "--bogus", "q"], "usage: qwen-ci ask "),
        (["batch", "in.jsonl", "-o", "out.jsonl", "--bogus", "extra"], "usage: qwen-ci batch "),
        (["doctor", "--bogus"], "usage: qwen-ci doctor "),
    ],
)
def test_a_flag_the_command_does_not_take_is_refused_with_that_commands_usage(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    unknown = "--bogus extra" if "extra" in argv else "--bogus"
    assert err.startswith(usage) and f"error: unrecognized arguments: {unknown}\n" in err


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--base-url", "http://127.0.0.1:9"], "--base-url"),
        (["--region", "singapore"], "--region"),
    ],
)
def test_the_emulator_with_a_flag_naming_another_endpoint_is_refused_before_anything_is_sent(
    given: list[str], named: str
) -> None:
    code, out, err = cli("ask", "--emulator", *given, SEED_QUESTION)
    assert code == 2 and out == ""
    assert f"--emulator answers from the local emulator, so {named} would not be used" in err
    assert "Nothing was sent" in err and "Using the local emulator" not in err


def test_a_batch_with_the_emulator_and_a_base_url_is_refused_before_anything_is_sent(
    tmp_path: Path, emu: Emulator
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(f'{{"id": "a", "question": "{SEED_QUESTION}"}}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, _, err = cli("batch", str(source), "-o", str(out), "--emulator", "--base-url", emu.base_url)
    assert code == 2 and "--base-url would not be used" in err
    assert emu.requests == [] and not out.exists()


def test_an_empty_key_file_is_told_as_an_empty_file_not_as_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("\n", encoding="utf-8")
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(key_file))
    code, out, err = cli("ask", SEED_QUESTION)
    assert code == 2 and out == ""
    assert "DASHSCOPE_API_KEY_FILE_PATH names an empty file" in err
    key_file.write_text(PLANTED_KEY + "\n", encoding="utf-8")  # the same set-up with the key in it: no complaint
    code, out, err = cli("doctor", "--base-url", "http://127.0.0.1:9")
    assert "empty file" not in err and "[ok  ] API key present" in out


# --- ask: what is printed, and how ------------------------------------------------------------------

#: An answer with letters outside ASCII, in two parts, with no reasoning and no code before it.
_WORDS = ("Größe: ", "四十二")


@pytest.fixture
def answer_only(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    emu.set_conversation(Conversation("answer-only", 10, (Answer(tuple(Delta(w, 2) for w in _WORDS)),)))
    return emu


def test_json_prints_letters_outside_ascii_as_they_are_indented_by_two(answer_only: Emulator) -> None:
    code, out, _ = cli("ask", "--json", "--base-url", answer_only.base_url, "q")
    assert code == 0 and '{\n  "answer": "Größe: 四十二",\n' in out


def test_an_answer_that_broke_before_any_reasoning_or_code_is_printed_as_what_arrived(answer_only: Emulator) -> None:
    answer_only.add_fault(Fault.drop(after_events=1))
    code, out, _ = cli("ask", "--base-url", answer_only.base_url, "q")
    assert code == 1 and "What arrived before the failure (incomplete)" in out and "Größe:" in out


def test_a_json_error_prints_its_partial_with_letters_outside_ascii_as_they_are(answer_only: Emulator) -> None:
    answer_only.add_fault(Fault.drop(after_events=1))
    code, out, _ = cli("ask", "--json", "--base-url", answer_only.base_url, "q")
    assert code == 1 and '\n  "partial": {\n    "answer": "Größe:' in out


def test_an_exported_notebook_keeps_letters_outside_ascii_and_nbformats_one_space_indent(
    answer_only: Emulator, tmp_path: Path
) -> None:
    notebook = tmp_path / "run.ipynb"
    code, _, _ = cli("ask", "--export", str(notebook), "--base-url", answer_only.base_url, "q")
    text = notebook.read_text(encoding="utf-8")
    assert code == 0 and "四十二" in text and text.startswith('{\n "') and json.loads(text)["nbformat"] == 4


def test_a_json_error_before_the_stream_began_has_a_null_partial(emu: Emulator, keyed: None) -> None:
    emu.add_fault(Fault.status(401))
    code, out, _ = cli("ask", "--json", "--base-url", emu.base_url, SEED_QUESTION)
    data = json.loads(out)
    assert code == 1 and data["error"]["type"] == "AuthenticationError" and data["partial"] is None


class _CtrlCWhenAsking(io.StringIO):
    """Standard error where Ctrl-C is pressed as the call is announced: before anything arrived."""

    def write(self, text: str) -> int:
        if text.startswith("Asking "):
            raise KeyboardInterrupt
        return super().write(text)


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_ctrl_c_before_anything_arrived_prints_no_partial_result(
    emu: Emulator, keyed: None, json_flag: list[str]
) -> None:
    out, err = io.StringIO(), _CtrlCWhenAsking()
    code = main(["ask", *json_flag, "--base-url", emu.base_url, SEED_QUESTION], stdout=out, stderr=err)
    assert code == 130 and err.getvalue().endswith("\ninterrupted\n")
    if json_flag:
        data = json.loads(out.getvalue())
        assert data["error"]["type"] == "Interrupted" and data["partial"]["answer"] == ""
    else:
        assert out.getvalue() == ""


def test_the_emulator_says_its_answers_are_not_computed_and_how_to_reach_the_service() -> None:
    code, _, err = cli("ask", "--emulator", SEED_QUESTION)
    assert code == 0 and "Using the local emulator (no DASHSCOPE_API_KEY needed)" in err
    assert "not computed. Set DASHSCOPE_API_KEY and drop --emulator for the real service." in err


def test_the_reasoning_streams_on_standard_error_only_with_show_reasoning() -> None:
    reasoning = "The user is asking me to calculate 123 raised to the power of 21"
    assert reasoning in cli("ask", "--emulator", "--show-reasoning", SEED_QUESTION)[2]
    assert reasoning not in cli("ask", "--emulator", SEED_QUESTION)[2]


def test_an_export_to_a_bare_file_name_is_written_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("ask", "--emulator", "--export", "run.md", SEED_QUESTION)
    assert code == 0 and "Wrote run.md." in err and SEED_ANSWER in (tmp_path / "run.md").read_text(encoding="utf-8")


def test_a_call_to_the_service_is_announced_with_its_model_endpoint_and_protocol(emu: Emulator, keyed: None) -> None:
    code, _, err = cli("ask", "--base-url", emu.base_url, "--protocol", "responses", SEED_QUESTION)
    assert code == 0
    assert f"Asking qwen3-max at {emu.base_url} over the responses protocol (the code runs remotely; this can" in err
    assert "Asking " not in cli("ask", "--emulator", SEED_QUESTION)[2]  # the emulator has its own notice


def test_a_completed_call_ends_with_its_duration_on_standard_error_except_with_json() -> None:
    assert re.search(r"\nDone in \d+\.\d s\.\n$", cli("ask", "--emulator", SEED_QUESTION)[2])
    assert "Done in" not in cli("ask", "--emulator", "--json", SEED_QUESTION)[2]


# --- models -------------------------------------------------------------------------------------------


def test_models_prints_a_header_each_row_its_disputed_protocols_and_where_the_documents_disagree() -> None:
    code, out, _ = cli("models")
    several = next(r for r in MODELS if len(r.protocols) > 1)
    disputed = next(r for r in MODELS if r.disputed)
    same_reason = [r.pattern for r in MODELS if r.disputed and r.disagreement == disputed.disagreement]
    shown = f"{', '.join(ordered(disputed.protocols))} (disputed: {', '.join(ordered(disputed.disputed))})"
    assert code == 0
    assert out.startswith(f"{'model (or family*)':24} {'documented over':40} {'native path':22} note\n")
    assert f"\n{several.pattern:24} {', '.join(ordered(several.protocols)):40} {several.native_endpoint:22} " in out
    assert f"\n{disputed.pattern:24} {shown:40} {disputed.native_endpoint:22} {disputed.note}\n" in out
    assert f"\n\nWhere the vendor's documents disagree:\n  {', '.join(same_reason)}: {disputed.disagreement}.\n" in out
    assert (
        "\n\nThe table advises, it never refuses: every model and protocol pair is sent as asked and the service "
        "decides; when it refuses, the error names the protocol the documents show. Other names are sent unchanged.\n"
    ) in out


def test_models_json_is_indented_by_two() -> None:
    code, out, _ = cli("models", "--json")
    assert code == 0 and out.startswith('[\n  {\n    "model": ')


# --- standard output that cannot be written -------------------------------------------------------------


class _Broken(io.StringIO):
    """Standard output whose writes fail with one ``errno``."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def write(self, text: str) -> int:
        raise OSError(self.number, os.strerror(self.number))

    def flush(self) -> None:
        raise OSError(self.number, os.strerror(self.number))


@pytest.mark.parametrize(
    ("number", "said"),
    [
        (
            errno.ENOSPC,
            f"({os.strerror(errno.ENOSPC)}: the device or file it goes to is full); send it somewhere with "
            "room (> FILE) and run the command again.\n",
        ),
        (
            errno.EPIPE,
            f"({os.strerror(errno.EPIPE)}: the program reading it has exited); send it to a file (> FILE) "
            "or to a program that reads all of it and run the command again.\n",
        ),
        (errno.EIO, f"({os.strerror(errno.EIO)}); send it somewhere with room (> FILE) and run the command again.\n"),
    ],
    ids=["full", "reader gone", "other"],
)
def test_standard_output_that_cannot_be_written_is_one_line_saying_why_and_what_to_do(number: int, said: str) -> None:
    err = io.StringIO()
    code = main(["models"], stdout=_Broken(number), stderr=err)
    assert code == 2 and err.getvalue() == f"error: could not write to standard output {said}"


def test_an_answer_that_cannot_be_written_says_it_was_billed_and_how_to_keep_a_copy() -> None:
    err = io.StringIO()
    code = main(["ask", "--emulator", SEED_QUESTION], stdout=_Broken(errno.ENOSPC), stderr=err)
    assert code == 2
    assert err.getvalue().endswith(
        f"error: could not write to standard output ({os.strerror(errno.ENOSPC)}: the device or file it goes to is "
        "full); the result is lost (it was billed; asking again is billed again). Redirect standard output to a file "
        "with room (> result.json), or keep a copy with --export run.md.\n"
    )


def test_a_batch_streaming_to_a_full_standard_output_reports_it_once_as_its_own_failure(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(f'{{"id": "a", "question": "{SEED_QUESTION}"}}\n', encoding="utf-8")
    err = io.StringIO()
    code = main(["batch", str(source), "-o", "-", "--base-url", emu.base_url], stdout=_Broken(errno.ENOSPC), stderr=err)
    assert code == 1 and err.getvalue().count("error: could not write to standard output") == 1


# --- the emulator command --------------------------------------------------------------------------------


def test_the_emulator_command_serves_with_its_flags_and_says_where_with_any_key(served: dict[str, object]) -> None:
    code, out, err = cli("emulator")
    assert code == 0 and out == ""
    assert served == {
        "host": "127.0.0.1",
        "port": 8765,
        "pace": 0.0,
        "code_pause": 0.0,
        "rate_limit": None,
        "rate_burst": 1.0,
        "call_seconds": 0.0,
        "api_key": None,
    }
    assert err == (
        "Emulator serving on http://127.0.0.1:4321 - use it as base_url (any key), e.g.\n"
        "  qwen-ci ask --base-url http://127.0.0.1:4321 ...  (with DASHSCOPE_API_KEY=sk-anything)\n"
        "Ctrl-C stops it.\n"
    )


def test_the_emulator_command_passes_each_flag_and_a_key_from_its_variable(
    served: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QWEN_CI_EMULATOR_KEY", PLANTED_KEY)
    # Fractions, every one: a whole number would pass an int type as well.
    argv = ["--host", "0.0.0.0", "--port", "0", "--pace", "0.5", "--code-pause", "2.5", "--rate-limit", "3.5"]
    code, _, err = cli("emulator", *argv, "--rate-burst", "4.5", "--call-seconds", "5.5")
    assert code == 0 and served == {
        "host": "0.0.0.0",
        "port": 0,
        "pace": 0.5,
        "code_pause": 2.5,
        "rate_limit": 3.5,
        "rate_burst": 4.5,
        "call_seconds": 5.5,
        "api_key": PLANTED_KEY,
    }
    assert "(only the key given)" in err and "DASHSCOPE_API_KEY=<that key>" in err and PLANTED_KEY not in err
    assert cli("emulator", "--api-key", "sk-flag")[0] == 0 and served["api_key"] == "sk-flag"


# --- how a failure is told, and standard input ---------------------------------------------------------


def test_a_retryable_failure_says_trying_again_may_work_and_a_rate_limit_does_not(emu: Emulator, keyed: None) -> None:
    emu.add_fault(Fault.drop(after_events=48))
    code, _, err = cli("ask", "--base-url", emu.base_url, "--max-retries", "0", SEED_QUESTION)
    assert code == 1 and err.endswith(" This is likely temporary: trying again in a moment may work.\n")
    emu.add_fault(Fault.status(429))
    code, _, err = cli("ask", "--base-url", emu.base_url, "--max-retries", "0", SEED_QUESTION)
    assert code == 1 and "likely temporary" not in err


class _Stdin:
    """``sys.stdin`` as a pipe of bytes."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_a_dash_reads_utf_8_bytes_from_standard_input_as_the_question(
    emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin("\ufeffGröße von 四十二?".encode()))
    code, _, _ = cli("ask", "--base-url", emu.base_url, "-")
    assert code == 0 and emu.requests[0].json["input"]["messages"][-1]["content"] == "Größe von 四十二?"


def test_bytes_on_standard_input_that_are_not_utf_8_are_refused_as_not_text(
    emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin(b"caf\xff"))
    code, _, err = cli("ask", "--base-url", emu.base_url, "-")
    assert code == 2 and "The question is not valid text: a lone surrogate" in err and emu.requests == []


@pytest.mark.parametrize("view", [PlainLive, RichLive], ids=["plain", "rich"])
def test_a_code_run_that_printed_nothing_says_no_output_and_one_that_printed_shows_it(view: type[LiveView]) -> None:
    # audit 6's l07 (output arrives on the responses protocol; an empty one must not look like a cut line)
    out = io.StringIO()
    live = view(out, show_reasoning=False)
    live.code_run(CodeRun(0, "x = 1", ""))
    live.code_run(CodeRun(1, "print(2)", "2\n"))
    live.end()
    shown = [line.strip() for line in out.getvalue().splitlines()]
    first, second = shown.index("output:"), len(shown) - 1 - shown[::-1].index("output:")
    assert shown[first + 1] == "(no output)" and shown[second + 1] == "2"
