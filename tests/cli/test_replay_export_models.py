"""``qwen-ci`` for a stranger: ``replay`` of a ``--record``ed stream, an ``--export``ed script that
prints what the sandbox printed, ``models --json``, ``emulator --help``,
and no "output not returned" line on every default run (the code shown while it runs: test_cli_terminal)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .processes import run_python

PROTOCOLS = ("dashscope", "openai", "responses")
NO_OUTPUT = "does not return what the code printed"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _same_record(a: dict[str, object], b: dict[str, object]) -> None:
    for field in ("answer", "code_runs", "usage", "model", "protocol", "status", "steps"):
        assert a[field] == b[field], field
    # The native stream carries its request id; the others' is a response header, not recorded.
    if a["protocol"] == "dashscope":
        assert a["request_id"] == b["request_id"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_recorded_stream_replays_from_the_command_line_to_the_same_result(protocol: str, tmp_path: Path) -> None:
    record = tmp_path / "run.sse"
    code, asked, _ = cli(
        "ask", "--emulator", "--protocol", protocol, "--record", str(record), "--json", TWO_RUN_QUESTION
    )
    assert code == 0

    # No key, no network, and no --protocol: the stream's framing says which protocol it is.
    code, replayed, err = cli("replay", str(record), "--json")

    assert code == 0, err
    _same_record(json.loads(asked), json.loads(replayed))
    assert f"Replaying {record}" in err


def test_a_replay_shows_the_stages_and_the_result_and_exports_as_ask_does(tmp_path: Path) -> None:
    record, script = tmp_path / "run.sse", tmp_path / "run.py"
    assert cli("ask", "--emulator", "--record", str(record), SEED_QUESTION)[0] == 0

    code, out, err = cli("replay", str(record), "--export", str(script))

    assert code == 0
    assert out.startswith("## Answer") and SEED_ANSWER in out and "123**21" in out
    assert "[running code #1]" in err and "▶ code run #1" in err and f"Wrote {script}" in err
    assert "_show(123**21)" in script.read_text()


def test_replaying_a_missing_or_empty_file_says_so_with_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sse"
    empty.write_bytes(b"")

    missing = cli("replay", str(tmp_path / "nothing.sse"))
    blank = cli("replay", str(empty))

    assert missing[0] == 2 and "No such file" in missing[2] and "nothing.sse" in missing[2]
    assert blank[0] == 2 and "is empty" in blank[2]


def test_replaying_a_file_that_is_no_event_stream_names_the_command_that_records_one(tmp_path: Path) -> None:
    binary = tmp_path / "run.sse"
    binary.write_bytes(bytes(range(256)) * 8)  # not a recording (a binary file, a wrong path)

    code, out, err = cli("replay", str(binary))

    assert code == 2 and out == ""
    assert "holds no server-sent events" in err and "qwen-ci ask --record FILE" in err
    assert "--base-url" not in err and "temporary" not in err  # not blamed on a service or a proxy


@pytest.mark.parametrize("protocol", ["dashscope", "responses"])  # the openai protocol returns no code
def test_an_exported_script_prints_what_the_sandbox_printed(protocol: str, tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    # The responses protocol returns what each run printed: the script must print the same.
    _, asked, _ = cli("ask", "--emulator", "--protocol", "responses", "--json", TWO_RUN_QUESTION)
    printed = [run["output"] for run in json.loads(asked)["code_runs"]]
    assert cli("ask", "--emulator", "--protocol", protocol, "--export", str(script), TWO_RUN_QUESTION)[0] == 0

    ran = run_python(str(script))

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == printed


def test_the_default_protocol_does_not_say_on_every_run_that_output_is_not_returned(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    code, out, err = cli("ask", "--emulator", "--export", str(script), TWO_RUN_QUESTION)
    _, as_json, _ = cli("ask", "--emulator", "--json", TWO_RUN_QUESTION)

    assert code == 0 and "## Code run by the interpreter" in out
    assert NO_OUTPUT not in out + err and "not returned" not in out + err
    # Where it matters it is said once: in --json's field, and in the script you would compare with.
    assert [run["output"] for run in json.loads(as_json)["code_runs"]] == [None, None]
    assert script.read_text().count(NO_OUTPUT) == 1


def test_the_result_text_for_a_model_says_once_that_output_is_not_returned() -> None:
    with Emulator() as emu:
        from qwen_ci_tool import CodeInterpreter

        with CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as ci:
            text = ci.run(TWO_RUN_QUESTION).to_markdown()

    assert text.count("### Run #") == 2 and text.count(NO_OUTPUT) == 1


def test_models_json_is_the_model_table_as_a_list_of_objects() -> None:
    code, out, _ = cli("models", "--json")
    _, table, _ = cli("models")

    assert code == 0
    rows = json.loads(out)
    by_model = {row["model"]: row for row in rows}
    assert by_model["qwen3-max"]["protocols"] == ["dashscope", "openai", "responses"]
    assert by_model["qwen3.5-flash*"]["disputed"] and by_model["qwen3.5-flash*"]["disagreement"]
    assert set(rows[0]) == {"model", "protocols", "disputed", "disagreement", "native_endpoint", "note"}
    assert [line.split()[0] for line in table.splitlines()[1 : len(rows) + 1]] == [row["model"] for row in rows]


def test_models_json_names_only_the_disputed_protocols_as_disputed() -> None:
    code, out, _ = cli("models", "--json")
    by_model = {row["model"]: row for row in json.loads(out)}

    assert code == 0
    assert by_model["qwen3.8-max"]["protocols"] == ["responses"] and by_model["qwen3.8-max"]["disputed"] == ["openai"]
    assert by_model["qwen3-max"]["disputed"] == []
    assert all(not set(row["disputed"]) & set(row["protocols"]) for row in by_model.values())


def test_emulator_help_describes_each_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["emulator", "--help"])
    text = " ".join(capsys.readouterr().out.split())

    assert done.value.code == 0
    for option, default in [
        ("--host HOST", "default 127.0.0.1"),
        ("--port PORT", "default 8765"),
        ("--pace SECONDS", "default 0.0"),
        ("--code-pause SECONDS", "default 0.0"),
        ("--api-key API_KEY", "default: any non-empty key"),
        ("--rate-limit N", "default: no limit"),
    ]:
        described = re.search(re.escape(option) + r" ([^()]+)\(([^)]*)\)", text)
        assert described is not None and described.group(1).strip(), option
        assert described.group(2).startswith(default), (option, described.group(2))
