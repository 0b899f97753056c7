"""Guards from the mutation sweep of the command line (issue 26): each test here fails with a mutant
of ``qwen_ci_tool/cli`` that the other tests let through, or with the gap it closes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["ask", "--bogus", "q"], "usage: qwen-ci ask "),
        (["batch", "in.jsonl", "-o", "out.jsonl", "--bogus"], "usage: qwen-ci batch "),
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
    assert err.startswith(usage) and "unrecognized arguments: --bogus" in err


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
