"""The command line's face of the key file's refusals (issue 26, helper sw-config's sweep of _config.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qwen_ci_tool import _constants as C
from qwen_ci_tool._protocols import PROTOCOLS
from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_QUESTION

from ..conftest import PLANTED_KEY
from .conftest import help_text


def test_ask_with_a_utf16_key_file_exits_2_naming_the_file_variable_not_with_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes((PLANTED_KEY + "\r\n").encode("utf-16"))  # what Windows PowerShell 5's `>` writes
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(key_file))
    out, err = io.StringIO(), io.StringIO()

    code = main(["ask", "--base-url", "http://127.0.0.1:9", SEED_QUESTION], stdout=out, stderr=err)

    assert code == 2 and out.getvalue() == ""
    assert "DASHSCOPE_API_KEY_FILE_PATH names a file that is not UTF-8 text" in err.getvalue()
    assert PLANTED_KEY not in err.getvalue()


def test_ask_help_tells_each_setting_what_it_does_its_default_and_its_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text(capsys, "ask")

    protocols = "{" + ",".join(PROTOCOLS) + "}"
    assert f"--protocol {protocols} wire protocol (default {C.DEFAULT_PROTOCOL}; 'dashscope' returns" in text
    assert (
        f"--model MODEL model name (default {C.DEFAULT_MODEL}; any name is passed through); env QWEN_CI_MODEL" in text
    )
    assert (
        f"--base-url BASE_URL service root, e.g. {C.REGION_ROOTS[C.DEFAULT_REGION]} (default: {C.ENV_BASE_URL}, else"
        " the region's); overrides --region; env QWEN_CI_BASE_URL" in text
    )
    regions = "{beijing,singapore,virginia,us}"
    assert (
        f"--region {regions} pick the service root by region (default {C.DEFAULT_REGION}; us is virginia);"
        " env QWEN_CI_REGION" in text
    )
    # Whole seconds are shown without a decimal point.
    assert f"seconds to connect (default {int(C.DEFAULT_CONNECT_TIMEOUT)}); env QWEN_CI_CONNECT_TIMEOUT" in text
    assert (
        "--idle-timeout IDLE_TIMEOUT longest silence in seconds, e.g. while the remote code runs"
        f" (default {int(C.DEFAULT_IDLE_TIMEOUT)}); env QWEN_CI_IDLE_TIMEOUT" in text
    )
    assert f"deadline in seconds for a whole call (default {int(C.DEFAULT_TOTAL_TIMEOUT)})" in text
    assert f"retries before the first event (default {C.DEFAULT_MAX_RETRIES}); env QWEN_CI_MAX_RETRIES" in text


def test_an_unknown_region_flag_is_refused_by_the_command_line_listing_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ask", "--region", "mars", SEED_QUESTION])
    assert exited.value.code == 2
    assert "argument --region: invalid choice: 'mars' (choose from " in capsys.readouterr().err
