"""Behaviours audit 9's misses showed no test checked (issue 26), through ``qwen-ci``. Each test fails with
its break (named in its comment)."""

from __future__ import annotations

import io
import json

import pytest

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_QUESTION, Emulator


def test_ctrl_c_while_the_call_is_being_opened_still_prints_the_json_error_with_a_null_partial(
    emu: Emulator, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break (audit 9, l01): `if args.json and partial is not None:` - Ctrl-C before the stream existed
    # printed no JSON at all, so a script reading --json's output got nothing to parse.
    def pressed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(CodeInterpreter, "stream", pressed)
    out, err = io.StringIO(), io.StringIO()
    code = main(["ask", "--json", "--base-url", emu.base_url, SEED_QUESTION], stdout=out, stderr=err)
    assert code == 130 and err.getvalue().endswith("\ninterrupted\n")
    data = json.loads(out.getvalue())
    assert data["error"]["type"] == "Interrupted" and data["error"]["request_id"] is None
    assert data["partial"] is None
