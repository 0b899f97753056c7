"""Promises of ``qwen-ci`` that only the sweep's other kinds of break reached (a clause of an ``and``/``or``
dropped, a condition forced either way): each test fails when its clause breaks (checked by hand)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import httpx
import pytest

from qwen_ci_tool import _constants
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._types import CodeRunUpdated
from qwen_ci_tool.cli import batch as batch_module
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.doctor import _documented, _unreachable
from qwen_ci_tool.cli.replay import protocol_of
from qwen_ci_tool.cli.view import PlainLive, RichLive
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .conftest import help_text
from .test_batch import _Terminal, batch, write_input

pytestmark = pytest.mark.usefixtures("no_backoff")


def cli(*argv: str, stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _event(data: dict[str, object], number: int) -> str:
    return f"id:{number}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n"


def native_stream(*outputs: dict[str, object]) -> bytes:
    """A stream as the native protocol sends it (what `ask --record` saves), one event per output."""
    usage = {"total_tokens": 30, "output_tokens": 10, "input_tokens": 20}
    events = [_event({"output": o, "usage": usage, "request_id": "req-1"}, n) for n, o in enumerate(outputs, 1)]
    return "".join(events).encode()


def _message(content: str, finish: str = "null") -> dict[str, object]:
    return {"choices": [{"message": {"content": content, "role": "assistant"}, "finish_reason": finish}]}


# --- replay ------------------------------------------------------------------------------------------


def test_replay_protocol_overrides_a_stream_whose_text_looks_like_another_protocol(tmp_path: Path) -> None:
    # The answer quotes the Chat Completions framing: recognised from the bytes, it would be read as that.
    stream = native_stream(_message("Each line is a chat.completion.chunk object.", "stop"))
    recording = tmp_path / "run.sse"
    recording.write_bytes(stream)
    assert protocol_of(stream) == "openai"

    code, out, err = cli("replay", str(recording), "--protocol", "dashscope", "--json")

    assert code == 0, err
    assert json.loads(out)["answer"] == "Each line is a chat.completion.chunk object."


def test_a_failure_after_a_code_run_and_before_any_reasoning_or_answer_still_prints_the_code(tmp_path: Path) -> None:
    code_run = {**_message(""), "tool_info": [{"code_interpreter": {"code": "123**21"}, "type": "code_interpreter"}]}
    recording = tmp_path / "cut.sse"
    recording.write_bytes(native_stream(code_run))  # the stream ends there: no finish reason

    code, out, err = cli("replay", str(recording))

    assert code == 1 and "error: The stream ended before the service finished" in err
    assert out.startswith("What arrived before the failure (incomplete):\n\n") and "123**21" in out


# --- models and the emulator -------------------------------------------------------------------------


def test_models_json_gives_null_for_a_model_the_documents_agree_on() -> None:
    code, out, _ = cli("models", "--json")

    by_model = {row["model"]: row for row in json.loads(out)}
    assert code == 0 and by_model["qwen3-max"]["disagreement"] is None


def test_an_empty_emulator_key_variable_lets_any_key_in(
    served: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QWEN_CI_EMULATOR_KEY", "")  # an empty key would refuse every caller

    code, _, err = cli("emulator")

    assert code == 0 and served["api_key"] is None and "(any key)" in err


# --- errors of the system without an errno ---------------------------------------------------------------


class _GoneReader(io.StringIO):
    """Standard output whose writes fail with an OSError that has a message but no errno (a wrapping stream)."""

    def write(self, text: str) -> int:
        raise OSError("the reader went away")


def test_standard_output_failing_without_an_errno_is_told_by_its_message() -> None:
    code, _, err = cli("models", stdout=_GoneReader())

    assert code == 2
    assert err.startswith("error: could not write to standard output (the reader went away); send it somewhere")


def test_a_batch_streaming_to_standard_output_that_fails_without_an_errno_names_the_message(
    tmp_path: Path, emu: Emulator, keyed: None
) -> None:
    source = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}])

    code, _, err = cli("batch", str(source), "-o", "-", "--base-url", emu.base_url, stdout=_GoneReader())

    assert code == 1 and "error: could not write to standard output (the reader went away): the batch stopped" in err


def test_an_error_of_the_system_without_an_errno_is_told_by_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def serve_forever(*args: object, **options: object) -> None:
        raise OSError("no address to listen on")

    monkeypatch.setattr(Emulator, "serve_forever", serve_forever)

    assert cli("emulator") == (2, "", "error: no address to listen on\n")


# --- batch progress ----------------------------------------------------------------------------------------


def test_on_a_terminal_the_bar_shows_from_the_start_and_moves_on_while_a_call_runs(
    tmp_path: Path, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One call lasting 1 s: the bar is drawn before it ends, and redrawn while it runs (every 1 s; 0.05 s
    # here, so that a loaded machine still shows several redraws within the call).
    monkeypatch.setattr(batch_module, "REDRAW_SECONDS", 0.05)
    source, out = write_input(tmp_path / "in.jsonl", [{"id": "a", "question": SEED_QUESTION}]), tmp_path / "o.jsonl"
    with Emulator(call_seconds=1.0) as emu:
        code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, stderr=_Terminal())

    waiting = [b for b in err.split("\r\033[K") if b.startswith("[" + "." * 24 + "] 0/1 done")]
    assert code == 0 and len(waiting) >= 2, err


def test_a_throttled_batch_names_the_rate_it_slowed_down_to(tmp_path: Path, keyed: None) -> None:
    tasks = [{"id": f"r{i}", "question": f"Task {i}"} for i in range(12)]
    source, out = write_input(tmp_path / "in.jsonl", tasks), tmp_path / "out.jsonl"
    with Emulator(rate_limit=50.0) as emu:
        code, err = batch(str(source), "-o", str(out), "--base-url", emu.base_url, "--concurrency", "8")
        assert emu.throttled > 0

    rates = re.findall(r"rate-limited by the service: starts now paced at (\S+)/s", err)
    assert code == 0 and rates and all(float(rate) > 0 for rate in rates), err


# --- doctor ----------------------------------------------------------------------------------------------


def test_in_a_region_of_undocumented_interpreter_a_protocol_fix_is_kept() -> None:
    settings = resolve_settings(api_key="sk-x", env={}, region="virginia", model="qwen3.7-max", protocol="openai")

    check = _documented(settings, _constants.REGION_ROOTS)

    assert check.status == "warn" and "whether the Virginia region" in check.detail
    assert (
        check.fix
        == "Model 'qwen3.7-max' is documented for the code interpreter over `responses`: try --protocol responses."
    )


def test_a_read_timeout_through_a_proxy_is_told_as_no_answer_not_as_the_proxys_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    settings = resolve_settings(api_key="sk-x", env={})

    check = _unreachable(httpx.ReadTimeout("timed out"), settings.base_url, settings)

    assert check.detail == f"no answer from {settings.base_url} within 10 s"


# --- what ask shows while a call runs ----------------------------------------------------------------------


def test_a_code_run_that_arrived_without_code_is_not_printed_live_as_an_empty_block() -> None:
    out = io.StringIO()
    live = PlainLive(out, show_reasoning=False)

    live.event(CodeRunUpdated(0, "", "42\n", is_new=True))
    live.close()

    assert "▶ code run" not in out.getvalue()


def test_on_a_terminal_no_code_block_shows_above_the_spinner_before_the_code_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("rich")
    monkeypatch.setenv("TERM", "xterm-256color")
    out = _Terminal()
    live = RichLive(out, show_reasoning=False)

    live.event(CodeRunUpdated(0, "", is_new=True))
    live.end()

    assert "running code #1" in out.getvalue() and "▶ code run" not in out.getvalue()


def test_on_a_terminal_the_running_code_is_shown_above_the_spinner(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    monkeypatch.setenv("TERM", "xterm-256color")
    out = _Terminal()
    live = RichLive(out, show_reasoning=False)

    live.event(CodeRunUpdated(0, "x = 6 * 7", is_new=True))
    live.end()

    shown = out.getvalue()
    assert "▶ code run #1" in shown and "running code #1" in shown
    assert shown.index("▶ code run #1") < shown.index("running code #1")


# --- --help and the README -----------------------------------------------------------------------------


def test_the_help_texts_other_help_tests_leave_out_are_shown_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        "Replay a stream saved by `qwen-ci ask --record FILE`: the stages, the result, --json and --export as the "
        "call gave them, through the local emulator (no key, no network)."
    ) in help_text(capsys, "replay")
    emulator = help_text(capsys, "emulator")
    assert (
        "Serve the local emulator of the DashScope endpoints (native, Chat Completions, Responses) until Ctrl-C: "
        "the seed conversations, scripted answers for other questions; no network."
    ) in emulator
    assert (
        "--api-key API_KEY accept only this key, also read from QWEN_CI_EMULATOR_KEY (default: any non-empty key)"
    ) in emulator
    assert (
        "--rate-limit N answer 429 with Retry-After above N call starts per second, as a throttled account gets; "
        "evenly spaced unless --rate-burst (default: no limit)"
    ) in emulator


def test_the_readme_names_every_long_option_of_every_command() -> None:
    import argparse

    from qwen_ci_tool.cli.main import _parser

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    options = {
        (name, option)
        for name, command in commands.items()
        for action in command._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
        if option.startswith("--")
    }
    # The README shows -o for --output.
    assert {(name, option) for name, option in options if option not in readme} == {("batch", "--output")}


@pytest.mark.parametrize(
    ("retry_after", "rate"),
    [(0.5, "1.9/s"), (0.3, "3.17/s")],  # one cut to 95% of 1/retry_after; said to three digits
    ids=["two-digits", "three-digits"],
)
def test_the_first_slow_down_of_a_batch_is_told_on_its_own(tmp_path: Path, retry_after: float, rate: str) -> None:
    from qwen_ci_tool import AdaptiveLimiter, BatchOutcome, InternalServerError
    from qwen_ci_tool.cli.batch import Progress, _Run
    from qwen_ci_tool.cli.batch_output import open_output

    limiter = AdaptiveLimiter(4)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=retry_after)  # one 429: one cut
    assert limiter.cuts == 1
    source = tmp_path / "in.jsonl"
    source.write_text("", encoding="utf-8")
    output, err = open_output(str(tmp_path / "out.jsonl"), io.StringIO(), str(source)), io.StringIO()
    run = _Run(Progress(1, 0.0), limiter, output, {}, err, tty=False)

    run.record(BatchOutcome("a", "failed", error=InternalServerError("boom", status_code=500)))
    output.close()

    assert (
        f"rate-limited by the service: starts now paced at {rate} (throttled tasks are sent again)\n" in err.getvalue()
    )
