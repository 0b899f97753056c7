"""What ``qwen-ci ask`` shows on stderr while a call runs (cli/view.py), in process: the plain view on a
terminal and piped, and the rich view's lines - guards from the mutation sweep (issue 26), each checked to
fail with the break it guards. The pseudo-terminal runs are in test_cli_terminal."""

from __future__ import annotations

import io
import re
import sys

import pytest

from qwen_ci_tool._types import CodeRun, CodeRunUpdated, ReasoningDelta
from qwen_ci_tool.cli.view import PlainLive, RichLive, live_view, print_markdown, rich_for

pytest.importorskip("rich")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


# --- the plain view ------------------------------------------------------------------------------


def test_on_a_terminal_the_plain_status_is_one_dim_line_rewritten_in_place_before_the_next_line() -> None:
    out = Terminal()
    live = PlainLive(out, show_reasoning=False)
    live.status("connecting")
    live.status("running code #1")
    live.note("Asking the service")
    live.end()
    assert out.getvalue() == (
        "\x1b[2m… connecting\x1b[0m\r\x1b[K\x1b[2m… running code #1\x1b[0m\r\x1b[KAsking the service\n"
    )


def test_piped_the_plain_status_is_a_bracketed_line_and_nothing_is_erased() -> None:
    out = io.StringIO()
    live = PlainLive(out, show_reasoning=False)
    live.status("connecting")
    live.note("Asking the service")
    live.end()
    assert out.getvalue() == "[connecting]\nAsking the service\n"


def test_the_plain_reasoning_opens_a_thinking_block_and_what_follows_starts_on_a_line_of_its_own() -> None:
    out = io.StringIO()
    live = PlainLive(out, show_reasoning=True)
    live.reasoning("First I add.\n", new_block=True)
    live.status("writing the answer")  # after a whole line: no blank line
    live.reasoning("Then I check", new_block=True)
    live.status("writing the answer")  # mid-line: the status starts on the next line
    live.end()
    assert out.getvalue() == (
        "\n[thinking]\nFirst I add.\n[writing the answer]\n\n[thinking]\nThen I check\n[writing the answer]\n"
    )


def test_the_plain_code_run_is_numbered_from_1_indented_and_trimmed_with_its_output() -> None:
    out = io.StringIO()
    live = PlainLive(out, show_reasoning=False)
    live.code_run(CodeRun(2, "  # first\nx = 1\nprint(x)\n\n", "\n 1\n\n"))
    live.code_run(CodeRun(3, "y = 2", None))  # a protocol that does not return the output: no output block
    assert out.getvalue() == (
        "▶ code run #3:\n      # first\n    x = 1\n    print(x)\n  output:\n    \n     1\n▶ code run #4:\n    y = 2\n"
    )


def test_the_events_of_a_run_show_its_stage_and_print_it_once_whole_even_when_the_stream_stops_there() -> None:
    out = io.StringIO()
    live = PlainLive(out, show_reasoning=False)
    live.event(CodeRunUpdated(0, "1 + 1", is_new=True))
    assert "▶ code run" not in out.getvalue()  # not whole yet
    live.close()
    shown = out.getvalue()
    assert "[running code #1]" in shown and shown.endswith("▶ code run #1:\n    1 + 1\n")


def test_without_show_reasoning_the_thinking_is_a_stage_not_text() -> None:
    out = io.StringIO()
    live = PlainLive(out, show_reasoning=False)
    live.event(ReasoningDelta("secret plan"))
    live.close()
    assert "secret plan" not in out.getvalue() and "[thinking]" in out.getvalue()


# --- which view ----------------------------------------------------------------------------------


def test_rich_renders_on_a_terminal_only_and_piped_output_gets_the_text_itself(colour_terminal: None) -> None:
    assert rich_for(Terminal()) and not rich_for(io.StringIO())
    assert isinstance(live_view(io.StringIO(), show_reasoning=False), PlainLive)
    terminal = Terminal()
    view = live_view(terminal, show_reasoning=True)
    view.end()
    assert isinstance(view, RichLive) and view.show_reasoning
    assert "connecting" in ANSI.sub("", terminal.getvalue()), "the spinner goes to the stream given"
    assert live_view(io.StringIO(), show_reasoning=True).show_reasoning

    piped = io.StringIO()
    print_markdown("# Title\n\n**bold** `x`\n", piped)
    assert piped.getvalue() == "# Title\n\n**bold** `x`\n"
    shown = Terminal()
    print_markdown("# Title\n\n**bold** `x`\n\n```python\nx = 1\n```\n", shown)
    text = ANSI.sub("", shown.getvalue())
    assert "Title" in text and "**" not in text and "# Title" not in text and "```" not in text and "x = 1" in text


def test_a_stream_without_isatty_is_not_a_terminal() -> None:
    class Bare:
        def write(self, text: str) -> int:
            return len(text)

    assert not rich_for(Bare())  # type: ignore[arg-type]


# --- the rich view ---------------------------------------------------------------------------------


def test_the_rich_reasoning_prints_whole_lines_under_thinking_and_keeps_brackets_as_written() -> None:
    out = io.StringIO()
    live = RichLive(out, show_reasoning=True)
    live.reasoning("I need list[int] and [bold]\nthe ", new_block=True)
    assert "I need list[int] and [bold]\n" in out.getvalue()  # a line is printed once it ends
    live.reasoning("[bold]sum.", new_block=False)
    assert "sum." not in out.getvalue()
    live.note("Asking [red]qwen3-max[/red]")  # what is left of the line is printed first
    live.reasoning("More.\n", new_block=False)
    live.end()
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert lines == [
        "[thinking]",
        "I need list[int] and [bold]",
        "the [bold]sum.",
        "Asking [red]qwen3-max[/red]",
        "More.",
        "",
    ]


def test_the_rich_code_run_is_numbered_from_1_with_code_and_output_indented_by_four() -> None:
    out = io.StringIO()
    live = RichLive(out, show_reasoning=False)
    live.code_run(CodeRun(0, "x = [1]\nprint(x)\n\n", "[bold][1]\n\n"))
    live.code_run(CodeRun(1, "y = 2", None))
    live.end()
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert lines == [
        "▶ code run #1",
        "    x = [1]",
        "    print(x)",
        "  output:",
        "    [1]",
        "▶ code run #2",
        "    y = 2",
        "",
    ]


def test_on_a_terminal_the_rich_view_shows_the_stage_the_time_and_the_running_code_then_clears_them(
    colour_terminal: None,
) -> None:
    out = Terminal()
    live = RichLive(out, show_reasoning=False)
    live.event(CodeRunUpdated(0, "6 * 7", is_new=True))
    live.end()
    frames = ANSI.sub("", out.getvalue())
    assert re.search(f"[{SPINNER}] running code #1 0:00:0\\d", frames), frames
    assert "▶ code run #1" in frames and "6 * 7" in frames  # the code above the spinner while it runs
    assert out.getvalue().rstrip("\x1b[?25h").endswith("\x1b[2K"), "the spinner is erased when it ends"

    first = Terminal()
    RichLive(first, show_reasoning=False).end()
    assert re.search(f"[{SPINNER}] connecting 0:00:0\\d", ANSI.sub("", first.getvalue()))


def test_on_a_terminal_the_rich_view_dims_reasoning_and_output_bolds_thinking_and_highlights_only_code(
    colour_terminal: None,
) -> None:
    out = Terminal()
    live = RichLive(out, show_reasoning=True)
    live.reasoning("plan 42\nthen", new_block=True)
    live.note("Asking qwen3-max at http://127.0.0.1:8000 (42 s)")
    live.code_run(CodeRun(0, "x = 42", "42\n"))
    live.end()
    shown = out.getvalue()
    assert "\x1b[1m[thinking]\x1b[0m" in shown and "\x1b[2mplan 42\x1b[0m" in shown
    assert "\x1b[2mthen\x1b[0m" in shown, "the rest of a line, printed before the note, is dim too"
    assert "\x1b[2m  output:\x1b[0m" in shown
    assert "Asking qwen3-max at http://127.0.0.1:8000 (42 s)\n" in shown, "a note is not highlighted"
    code_line = next(line for line in shown.splitlines() if ANSI.sub("", line).strip() == "x = 42")
    colours = set(re.findall(r"\x1b\[38;([0-9;]+?);?(?:49)?m", code_line))
    assert len(colours) >= 2, f"python highlighting: {code_line!r}"
    assert "48;" not in code_line, "code on the terminal's own background"


def test_the_rich_view_leaves_sys_stdout_and_sys_stderr_alone_while_it_runs(colour_terminal: None) -> None:
    # ask writes the answer to the stdout it was given; rich must not capture the process's streams.
    streams = (sys.stdout, sys.stderr)
    live = RichLive(Terminal(), show_reasoning=False)
    try:
        assert (sys.stdout, sys.stderr) == streams
    finally:
        live.end()


def test_on_a_terminal_the_rich_spinner_says_thinking_while_the_reasoning_streams(colour_terminal: None) -> None:
    out = Terminal()
    live = RichLive(out, show_reasoning=True)
    live.reasoning("hmm\n", new_block=True)
    live.end()
    assert re.search(f"[{SPINNER}] thinking 0:00:0\\d", ANSI.sub("", out.getvalue()))
