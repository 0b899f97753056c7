"""The README stays true: its snippets are the tested example files, its protocol table matches
what each protocol returns against the emulator, and the examples run."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_ANSWER, TWO_RUN_QUESTION, Emulator

from .cli.processes import run_python

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
    return [dict(zip(header, (c.strip() for c in row.strip("|").split("|")), strict=False)) for row in rows[2:]]


# How to reach each endpoint a row names after its first (the default): the setting the cell names.
_OTHER_ENDPOINTS: dict[str, dict[str, str]] = {
    "dashscope": {"model": "qwen3.5-plus"},  # "(Qwen3.5 and newer)"
    "responses": {"responses_path": "/api/v2/apps/protocols/compatible-mode/v1/responses"},  # "via `responses_path=`"
}


def _path_sent(emu: Emulator, protocol: str, question: str, **settings: str) -> tuple[str, Any]:
    before = len(emu.requests)
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, protocol=protocol, **settings) as ci:  # type: ignore[arg-type]
        result = ci.run(question)
    sent = emu.requests[before:]
    assert len(sent) == 1, [r.path for r in sent]
    return sent[0].path, result


def test_the_protocol_table_matches_what_each_protocol_returns(emu: Emulator) -> None:
    rows = _table("Protocols: what each returns")
    assert len(rows) == 3
    for row in rows:
        protocol = re.search(r"`(\w+)`", row["protocol"]).group(1)  # type: ignore[union-attr]
        path, result = _path_sent(emu, protocol, TWO_RUN_QUESTION)
        # Endpoint column: the first path is where the default settings send; "..." abbreviates
        # the part shared with the first; each other path is reached by the setting it names.
        paths = re.findall(r"`((?:\.\.\.)?/[^`]+)`", row["endpoint"])
        assert paths and paths[0] == path, (protocol, paths, path)
        other = _OTHER_ENDPOINTS.get(protocol)
        assert len(paths) == (2 if other else 1), (protocol, paths)
        if other:
            other_path, _ = _path_sent(emu, protocol, TWO_RUN_QUESTION, **other)
            shown = paths[1]
            assert other_path.endswith(shown[3:]) if shown.startswith("...") else other_path == shown, (
                protocol,
                shown,
                other_path,
            )
        yes = lambda cell: cell.strip("*").startswith("yes")  # noqa: E731
        assert yes(row["reasoning"]) == bool(result.reasoning), protocol
        assert yes(row["code"]) == bool(result.code_runs), protocol
        assert yes(row["code output"]) == any(r.output for r in result.code_runs), protocol
        # Interpreter count: "yes" is the real count (the question runs code twice); "no (N)"
        # says the count reads N whatever ran.
        calls = result.usage.code_interpreter_calls
        if yes(row["interpreter count"]):
            assert calls == 2, (protocol, calls)
        else:
            stated = re.fullmatch(r"no \((\d+)\)", row["interpreter count"])
            assert stated is not None and calls == int(stated.group(1)), (protocol, row["interpreter count"], calls)
        fields = {
            "input": "input_tokens",
            "output": "output_tokens",
            "reasoning": "reasoning_tokens",
            "total": "total_tokens",
        }
        listed = {f.strip() for f in row["usage"].split(",")}
        for word, attr in fields.items():
            assert (word in listed) == (getattr(result.usage, attr) > 0), (protocol, word)


def _run_example(name: str, emu: Emulator) -> subprocess.CompletedProcess[str]:
    return run_python(str(ROOT / "examples" / name), DASHSCOPE_API_KEY="sk-test", DASHSCOPE_HTTP_BASE_URL=emu.base_url)


def test_the_quickstart_example_runs_and_prints_answer_code_and_usage(emu: Emulator) -> None:
    proc = _run_example("quickstart.py", emu)
    assert proc.returncode == 0, proc.stderr
    assert (
        SEED_ANSWER in proc.stdout
        and "code run #1: 123**21" in proc.stdout
        and "997 tokens, 1 interpreter call(s)" in proc.stdout
    )


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
