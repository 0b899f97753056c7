"""The README stays true: its snippets are the tested example files, its protocol table matches
what each protocol returns against the emulator, and the examples run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_ANSWER, TWO_RUN_QUESTION, Emulator

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_every_snippet_marked_in_the_readme_is_the_example_file_verbatim() -> None:
    marked = re.findall(r"<!-- snippet: (\S+) -->\n```\w*\n(.*?)```", README, re.S)
    assert marked, "the README marks its snippets"
    for path, block in marked:
        assert block == (ROOT / path).read_text(encoding="utf-8"), path


def _table(title: str) -> list[dict[str, str]]:
    section = README.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in row.strip("|").split("|")))) for row in rows[2:]]


def test_the_protocol_table_matches_what_each_protocol_returns(emu: Emulator) -> None:
    rows = _table("Protocols: what each returns")
    assert len(rows) == 3
    for row in rows:
        protocol = re.search(r"`(\w+)`", row["protocol"]).group(1)  # type: ignore[union-attr]
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, protocol=protocol) as ci:
            result = ci.run(TWO_RUN_QUESTION)
        yes = lambda cell: cell.strip("*").startswith("yes")  # noqa: E731
        assert yes(row["reasoning"]) == bool(result.reasoning), protocol
        assert yes(row["code"]) == bool(result.code_runs), protocol
        assert yes(row["code output"]) == any(r.output for r in result.code_runs), protocol
        assert yes(row["interpreter count"]) == (result.usage.code_interpreter_calls == 2), protocol
        fields = {"input": "input_tokens", "output": "output_tokens", "reasoning": "reasoning_tokens", "total": "total_tokens"}
        listed = {f.strip() for f in row["usage"].split(",")}
        for word, attr in fields.items():
            assert (word in listed) == (getattr(result.usage, attr) > 0), (protocol, word)


def _run_example(name: str, emu: Emulator) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE")}
    env.update(DASHSCOPE_API_KEY="sk-test", DASHSCOPE_HTTP_BASE_URL=emu.base_url)
    return subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_the_quickstart_example_runs_and_prints_answer_code_and_usage(emu: Emulator) -> None:
    proc = _run_example("quickstart.py", emu)
    assert proc.returncode == 0, proc.stderr
    assert SEED_ANSWER in proc.stdout and "code run #1: 123**21" in proc.stdout and "997 tokens, 1 interpreter call(s)" in proc.stdout


def test_the_streaming_example_runs_and_shows_the_stages(emu: Emulator) -> None:
    proc = _run_example("streaming.py", emu)
    assert proc.returncode == 0, proc.stderr
    assert "[running code #2]" in proc.stdout and "2.338016430028866e+47" in proc.stdout


def test_the_python_api_example_runs(emu: Emulator) -> None:
    proc = _run_example("python_api.py", emu)
    assert proc.returncode == 0, proc.stderr
    assert "StreamStarted" in proc.stdout and "Completed" in proc.stdout and SEED_ANSWER in proc.stdout


def test_the_emulator_example_runs_and_shows_faults(emu: Emulator) -> None:
    proc = _run_example("emulator.py", emu)
    assert proc.returncode == 0, proc.stderr
    assert "throttled: Throttling.RateQuota" in proc.stdout
    assert "StreamInterruptedError - partial answer: 123 to the power of 21" in proc.stdout
    assert proc.stdout.rstrip().endswith(SEED_ANSWER)
