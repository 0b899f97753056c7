"""``qwen-ci ask`` as a person sees it: on a terminal (a pseudo-terminal), piped, and without rich.

Each test runs the CLI as a real process. On a terminal with ``rich`` the answer is rendered
Markdown, the code is highlighted and a spinner shows the stage and the elapsed time; piped, or
with ``rich`` missing, the output is plain text.
"""

from __future__ import annotations

import os
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY

# Pseudo-terminals are POSIX: on Windows (the release workflow's matrix) these tests are skipped.
fcntl = pytest.importorskip("fcntl", reason="pseudo-terminals need POSIX (fcntl)")
termios = pytest.importorskip("termios", reason="pseudo-terminals need POSIX (termios)")

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RUN_CLI = "import sys; from qwen_ci_tool.cli import main; sys.exit(main(sys.argv[1:]))"
# Makes `import rich` fail, as on an install without the [cli] extra.
WITHOUT_RICH = "import sys; sys.modules['rich'] = None; " + RUN_CLI


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
    env.pop("DASHSCOPE_API_KEY", None)
    return {**env, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), **extra}


def on_a_terminal(code: str, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Runs ``python -c code argv`` with stdout and stderr on two pseudo-terminals (100 columns)."""
    terminals = {name: os.openpty() for name in ("stdout", "stderr")}
    for _, follower in terminals.values():
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdin=subprocess.DEVNULL,
        stdout=terminals["stdout"][1],
        stderr=terminals["stderr"][1],
        env=env or clean_env(),
        cwd=ROOT,
    )
    for _, follower in terminals.values():
        os.close(follower)
    reading = {leader: name for name, (leader, _) in terminals.items()}
    received = {name: b"" for name in terminals}
    deadline = time.monotonic() + 60
    try:
        while reading:
            left = deadline - time.monotonic()
            assert left > 0, f"the CLI did not finish; so far: {received}"
            ready, _, _ = select.select(list(reading), [], [], left)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the process closed its end
                    data = b""
                if data:
                    received[reading[fd]] += data
                else:
                    os.close(fd)
                    del reading[fd]
        code_ = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        for fd in reading:
            os.close(fd)
    return code_, received["stdout"].decode(), received["stderr"].decode()


def piped(code: str, *argv: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def plain(text: str) -> str:
    return ANSI.sub("", text)


@pytest.fixture(scope="module")
def seed_on_a_terminal() -> tuple[str, str]:
    """``qwen-ci ask --emulator`` on a terminal: its stdout and stderr, once it has exited 0."""
    code, out, err = on_a_terminal(RUN_CLI, "ask", "--emulator", SEED_QUESTION)
    assert code == 0, err
    return out, err


def test_on_a_terminal_the_answer_is_rendered_markdown_and_the_code_is_highlighted(
    seed_on_a_terminal: tuple[str, str],
) -> None:
    out, _ = seed_on_a_terminal
    text = plain(out)
    assert SEED_ANSWER in text
    assert "Answer" in text and "## Answer" not in text  # a rendered heading, not Markdown source
    assert "```" not in text
    assert "123**21" in text
    # highlighted: the number and the operator of `123**21` are coloured separately
    assert re.search(r"123\x1b\[[0-9;]*m(\x1b\[[0-9;]*m)*\*", out), out


def test_on_a_terminal_a_spinner_shows_the_stage_and_the_elapsed_time_and_goes_away(
    seed_on_a_terminal: tuple[str, str],
) -> None:
    _, err = seed_on_a_terminal
    text = plain(err)
    assert re.search(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] running code #1 \d+:\d\d:\d\d", text), text
    assert re.search(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] answering \d+:\d\d:\d\d", text), text
    assert "▶ code run #1" in text and "123**21" in text  # the code as it ran, above the spinner
    assert text.rstrip().splitlines()[-1].startswith("Done in")  # the spinner line was cleared
    assert "\x1b[?25h" in err  # the cursor is shown again


def test_on_a_terminal_the_reasoning_streams_above_the_spinner() -> None:
    code, out, err = on_a_terminal(RUN_CLI, "ask", "--emulator", "--show-reasoning", SEED_QUESTION)

    assert code == 0
    text = plain(err)
    assert "[thinking]" in text
    assert "The user is asking me to calculate 123 raised to the power of 21." in " ".join(text.split())
    assert "Reasoning" in plain(out) and "## Reasoning" not in plain(out)


def test_on_a_terminal_a_failure_shows_what_arrived_and_the_error_with_the_spinner_gone(
    emu: Emulator,
) -> None:
    emu.add_fault(Fault.drop(after_events=48))
    env = clean_env(DASHSCOPE_API_KEY=PLANTED_KEY)

    code, out, err = on_a_terminal(RUN_CLI, "ask", "--base-url", emu.base_url, SEED_QUESTION, env=env)

    assert code == 1
    assert "What arrived before the failure" in out and "123**21" in plain(out)
    assert plain(err).rstrip().splitlines()[-1].startswith("error:")
    assert "\x1b[?25h" in err
    assert PLANTED_KEY not in out + err


def test_piped_output_is_plain_markdown_without_escape_codes() -> None:
    code, out, err = piped(RUN_CLI, "ask", "--emulator", SEED_QUESTION)

    assert code == 0
    assert out.startswith("## Answer") and "```python\n123**21\n```" in out
    assert "[running code #1]" in err and "▶ code run #1" in err
    assert "\x1b" not in out + err


def test_without_rich_a_terminal_gets_plain_text() -> None:
    code, out, err = on_a_terminal(WITHOUT_RICH, "ask", "--emulator", SEED_QUESTION)

    assert code == 0
    assert "## Answer" in out and "```python" in out  # the Markdown source, as piped
    assert "\x1b[2m… running code #1" in err  # the plain status line
    assert not re.search(r"\d+:\d\d:\d\d", plain(err))  # no spinner with elapsed time


def test_json_on_a_terminal_stays_json() -> None:
    code, out, _ = on_a_terminal(RUN_CLI, "ask", "--emulator", "--json", SEED_QUESTION)

    assert code == 0
    assert out.lstrip().startswith("{") and "\x1b" not in out


def test_on_a_terminal_the_code_shows_while_the_sandbox_runs_it() -> None:
    # The sandbox takes 30 s over the code; the code must be on screen long before that.
    with Emulator(code_pause=30) as emu:
        leader, follower = os.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_CLI, "ask", "--base-url", emu.base_url, SEED_QUESTION],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower,
            env=clean_env(DASHSCOPE_API_KEY=PLANTED_KEY), cwd=ROOT,
        )  # fmt: skip
        os.close(follower)
        screen = ""
        try:
            deadline = time.monotonic() + 20
            while "123**21" not in ANSI.sub("", screen):
                left = deadline - time.monotonic()
                assert left > 0 and proc.poll() is None, f"no code on screen while it runs: {screen!r}"
                if select.select([leader], [], [], left)[0]:
                    screen += os.read(leader, 65536).decode(errors="replace")
        finally:
            proc.kill()
            proc.wait(timeout=10)
            os.close(leader)

    text = ANSI.sub("", screen)
    assert "▶ code run #1" in text and "running code #1" in text
    assert "answering" not in text  # the answer has not begun: the sandbox is still running the code
