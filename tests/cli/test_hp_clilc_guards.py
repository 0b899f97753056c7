"""Hand breaks of ``qwen-ci`` (issue 26, hp-clilc): Ctrl-C and failures with each output option, the
first/last and fallback rules, the numbers printed. Each test fails with the break named in it."""

from __future__ import annotations

import io
import json
from pathlib import Path

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY


class _CtrlCWhenAnswering(io.StringIO):
    """Standard error (piped: plain stage lines) of a user who presses Ctrl-C as the answer begins: the
    code run and the first words of the answer have arrived."""

    def write(self, text: str) -> int:
        if text.startswith("[answering]"):
            raise KeyboardInterrupt
        return super().write(text)


def _ask(emu: Emulator, *argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = main(["ask", *argv, "--base-url", emu.base_url, SEED_QUESTION], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_ctrl_c_with_json_and_export_prints_the_partial_as_json_and_still_exports_it(
    emu: Emulator, keyed: None, tmp_path: Path
) -> None:
    # Breaks: `_export` skipped under --json in _keep_partial (the partial was lost from the file); the
    # JSON error's request_id None; the JSON's partial None; "interrupted" not said under --json.
    export = tmp_path / "run.md"
    code, out, err = _ask(emu, "--json", "--export", str(export), stderr=_CtrlCWhenAnswering())
    assert code == 130 and err.endswith("\ninterrupted\n") and f"Wrote {export}." in err
    data = json.loads(out)
    assert data["error"]["type"] == "Interrupted"
    assert data["partial"]["code_runs"][0]["code"] == "123**21"
    assert data["error"]["request_id"] and data["error"]["request_id"] == data["partial"]["request_id"]
    assert "123**21" in export.read_text(encoding="utf-8")


def test_ctrl_c_in_plain_output_names_ctrl_c_as_what_ended_the_partial(emu: Emulator, keyed: None) -> None:
    # Breaks: the partial printed as "What arrived before the failure"; exit 1 instead of 130.
    code, out, err = _ask(emu, stderr=_CtrlCWhenAnswering())
    assert code == 130 and err.endswith("\ninterrupted\n")
    assert out.startswith("What arrived before Ctrl-C (incomplete):\n\n") and "123**21" in out


def test_a_failure_with_json_and_export_exports_the_partial_and_puts_it_in_the_json(
    emu: Emulator, keyed: None, tmp_path: Path
) -> None:
    # Breaks: `_export` skipped under --json after a failure; the JSON's partial None.
    emu.add_fault(Fault.drop(after_events=48))
    export = tmp_path / "run.py"
    code, out, err = _ask(emu, "--json", "--export", str(export))
    data = json.loads(out)
    assert code == 1 and data["error"]["type"] == "StreamInterruptedError" and PLANTED_KEY not in out + err
    assert data["partial"]["code_runs"][0]["code"] == "123**21"
    assert "123**21" in export.read_text(encoding="utf-8")
