"""The command line's face of the key file's refusals (issue 26, helper sw-config's sweep of _config.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_QUESTION

from ..conftest import PLANTED_KEY


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
