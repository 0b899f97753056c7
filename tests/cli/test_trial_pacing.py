"""An ``--emulator`` trial is paced for a person (about a second a call: the stages go by), in the CLI and
in the MCP server alike; QWEN_CI_EMULATOR_PACE sets the pause (0: none, as a CI smoke run and this suite
want), and a value that is not a pause ends the command before anything starts, naming the variable."""

from __future__ import annotations

import io

import pytest

import mcp_server.__main__ as server_entry
from qwen_ci_tool import testing
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.common import TRIAL_PACE_ENV
from qwen_ci_tool.testing import SEED_QUESTION, Emulator


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The keyword arguments of every emulator the trial starts."""
    seen: list[dict[str, object]] = []

    class Recorded(Emulator):
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen.append(kwargs)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(testing, "Emulator", Recorded)
    monkeypatch.setattr(server_entry, "_serve", lambda args: 0)  # the server's trial, up to serving
    return seen


def _cli_trial() -> tuple[int, str]:
    err = io.StringIO()
    return main(["ask", "--emulator", SEED_QUESTION], stdout=io.StringIO(), stderr=err), err.getvalue()


def test_unset_a_trial_is_paced_so_the_stages_go_by_in_about_a_second(
    started: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break: the pacing's figures (a 4 s code run, say), or the two faces pacing differently.
    monkeypatch.delenv(TRIAL_PACE_ENV)
    assert _cli_trial()[0] == 0
    assert server_entry.main(["--emulator"]) == 0
    assert started == [{"pace": 0.01, "code_pause": 0.4}] * 2


@pytest.mark.parametrize(("value", "paced"), [("0", (0.0, 0.0)), (" 0.02 ", (0.02, 0.8)), ("", (0.01, 0.4))])
def test_the_variable_sets_the_pause_and_the_code_run_is_forty_of_them(
    value: str, paced: tuple[float, float], started: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRIAL_PACE_ENV, value)
    assert _cli_trial()[0] == 0
    assert server_entry.main(["--emulator"]) == 0
    expected = {"pace": paced[0], "code_pause": pytest.approx(paced[1])}
    assert started == [expected, expected]


@pytest.mark.parametrize("value", ["fast", "-1", "nan", "11", "inf"])
def test_a_value_that_is_not_a_pause_ends_either_command_before_anything_starts(
    value: str, started: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TRIAL_PACE_ENV, value)
    said = f"{TRIAL_PACE_ENV}={value!r} is not a pause in seconds between the emulator's events: set it to a number "
    code, err = _cli_trial()
    assert code == 2 and said in err and "from 0 (no pauses) to 10, or unset it for 0.01" in err
    assert server_entry.main(["--emulator"]) == 2
    assert capsys.readouterr().err.startswith(f"qwen-ci-mcp: error: {said}")
    assert started == []
