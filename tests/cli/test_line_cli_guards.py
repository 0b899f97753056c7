"""Guards from the line-by-line hand breaks of qwen_ci_tool/cli/ (doctor, common, view, replay, main; issue 26,
"honest guards II"): each test was checked to fail with the one-line break its docstring names."""

from __future__ import annotations

import errno
import io
import os
import re

import httpx
import pytest

from qwen_ci_tool import _constants
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._types import CodeRun, CodeRunUpdated
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.doctor import _documented, _unreachable
from qwen_ci_tool.cli.view import RichLive
from qwen_ci_tool.testing import SEED_QUESTION

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_bad_setting_with_the_emulator_is_refused_before_the_emulator_is_announced() -> None:
    """Break lc04: maybe_emulator without its resolve_settings check (the emulator started and announced first)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["ask", "--emulator", "--connect-timeout", "-1", "q"], stdout=out, stderr=err)
    assert code == 2
    assert err.getvalue().startswith("error: Invalid connect timeout: -1.0. --connect-timeout must be"), err.getvalue()
    assert "local emulator" not in err.getvalue() and out.getvalue() == ""


PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


def test_the_doctor_blames_a_connect_timeout_through_a_proxy_on_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break ld03: ConnectTimeout dropped from the doctor's proxy check (a proxy that never let the connection
    through was reported as the endpoint not answering in time)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@proxy.example:3128")
    settings = resolve_settings(api_key="sk-x", env={})
    check = _unreachable(httpx.ConnectTimeout("timed out"), settings.base_url, settings)
    assert check.status == "fail"
    assert check.detail == f"the proxy http://proxy.example:3128 between you and {settings.base_url} failed: timed out"
    assert check.fix.startswith("Check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (and NO_PROXY)")


def test_a_batch_without_an_output_file_is_refused_with_the_batch_usage_naming_the_output_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Break lm09: ``-o/--output`` no longer required (a batch without OUTPUT got past the parser)."""
    with pytest.raises(SystemExit) as exit_:
        main(["batch", "tasks.jsonl"], stdout=io.StringIO(), stderr=io.StringIO())
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("usage: qwen-ci batch ") and "the following arguments are required: -o/--output" in err


# --- the rich live view ----------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_the_rich_view_prints_the_unfinished_reasoning_line_before_the_code_run_that_follows_it() -> None:
    """Break lv01: RichLive.code_run without _end_reasoning (the thought's last words came after the code)."""
    pytest.importorskip("rich")
    out = io.StringIO()
    live = RichLive(out, show_reasoning=True)
    live.reasoning("Let me compute it", new_block=True)
    live.code_run(CodeRun(0, "6 * 7", "42"))
    live.end()
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert lines == ["[thinking]", "Let me compute it", "▶ code run #1", "    6 * 7", "  output:", "    42", ""]


def test_on_a_terminal_a_code_run_once_printed_no_longer_shows_above_the_spinner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Break lv02: RichLive.code_run without ``self._running = None`` (the printed run stayed drawn above the
    spinner, so it showed twice until the call ended)."""
    pytest.importorskip("rich")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out = Terminal()
    live = RichLive(out, show_reasoning=False)
    live.event(CodeRunUpdated(0, "6 * 7", is_new=True))
    live.code_run(CodeRun(0, "6 * 7", "42"))
    live.status("writing the answer")
    live.end()
    raw = out.getvalue()
    # The first frame drawn once the stage changed: what follows the last line erased before it.
    before_stage = raw[: raw.index("writing the answer")]
    frame = ANSI.sub("", before_stage[before_stage.rindex("\x1b[2K") :])
    assert "code run" not in frame and "6 * 7" not in frame, frame


def test_the_rich_view_prints_a_thought_cut_off_mid_line_when_it_ends() -> None:
    """Break lv11: RichLive.end without _end_reasoning (the last reasoning words, without a newline, were lost
    when the stream stopped there)."""
    pytest.importorskip("rich")
    out = io.StringIO()
    live = RichLive(out, show_reasoning=True)
    live.reasoning("First line.\nhalf a thou", new_block=True)
    live.end()
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert lines == ["[thinking]", "First line.", "half a thou", ""]


class FullOnFlush(io.StringIO):
    """Standard output whose buffered writes fail when flushed, as a full device does."""

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_an_answer_that_cannot_be_flushed_to_standard_output_is_not_followed_by_done() -> None:
    """Break lv10: print_markdown without its flush (the answer, still buffered, was followed by "Done in ... s."
    on standard error before it failed to reach standard output)."""
    err = io.StringIO()
    code = main(["ask", "--emulator", SEED_QUESTION], stdout=FullOnFlush(), stderr=err)
    assert code == 2
    assert "Done in" not in err.getvalue(), err.getvalue()
    assert err.getvalue().splitlines()[-1].startswith("error: could not write to standard output (")


def test_piped_the_live_view_shows_only_the_work_stages_not_connected_or_done() -> None:
    """Break lv24: LiveView.event showing every stage (``stage is not None``), not only the work stages."""
    err = io.StringIO()
    assert main(["ask", "--emulator", SEED_QUESTION], stdout=io.StringIO(), stderr=err) == 0
    stages = [line for line in err.getvalue().splitlines() if line.startswith("[")]
    assert stages == ["[thinking]", "[running code #1]", "[thinking]", "[answering]"], err.getvalue()


@pytest.mark.parametrize("next_step", ["status", "running"])
def test_the_rich_view_prints_the_unfinished_reasoning_line_as_soon_as_the_next_stage_begins(next_step: str) -> None:
    """Breaks lv19 / lv20: RichLive.running / RichLive.status without _end_reasoning (the thought's last words
    were held back, out of sight, until a code run was printed or the call ended)."""
    pytest.importorskip("rich")
    out = io.StringIO()
    live = RichLive(out, show_reasoning=True)
    live.reasoning("Let me compute it", new_block=True)
    if next_step == "status":
        live.status("answering")
    else:
        live.running(CodeRunUpdated(0, "6 * 7", is_new=True))
    shown = [line.rstrip() for line in out.getvalue().splitlines()]
    live.end()
    assert shown == ["[thinking]", "Let me compute it"]


def test_outside_the_documented_regions_the_protocol_advice_is_kept_as_the_fix() -> None:
    """Break ld24: the region warning's fix replaced the protocol check's own advice (a model documented over
    another protocol, asked in the US region, lost the `--protocol responses` fix)."""
    settings = resolve_settings(api_key="sk-x", env={}, model="qwen3.8-max", protocol="dashscope", region="virginia")
    check = _documented(settings, _constants.REGION_ROOTS)
    assert check.status == "warn"
    assert "whether the Virginia region (https://dashscope-us.aliyuncs.com) serves the code interpreter" in check.detail
    assert check.fix.startswith("Model 'qwen3.8-max' is documented for the code interpreter over `responses`: try")
    assert "--protocol responses" in check.fix, check.fix
