"""Behaviours audit 9's misses showed no test checked (issue 26), through ``qwen-ci``. Each test fails with
its break (named in its comment)."""

from __future__ import annotations

import errno
import io
import json
import os

import pytest

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.common import GuardedOutput
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


class _FailingStream(io.StringIO):
    """Standard output that fails: full at the first write, then the reader gone at the flush."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        raise OSError(errno.EPIPE, os.strerror(errno.EPIPE))


def test_standard_output_that_fails_twice_is_reported_by_its_first_failure() -> None:
    # Break (audit 9, l07): `self.error = err` - the last failure (here a broken pipe at the flush after
    # the full disk) replaced the first, so the advice answered the wrong problem.
    out = GuardedOutput(_FailingStream())
    with pytest.raises(OSError, match="No space left"):
        out.write("result")
    with pytest.raises(OSError, match="Broken pipe"):
        out.flush()
    assert out.error is not None and out.error.errno == errno.ENOSPC
