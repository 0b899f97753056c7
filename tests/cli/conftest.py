"""Fixtures the command-line tests share."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.testing import Emulator

from ..conftest import PLANTED_KEY


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in DASHSCOPE_API_KEY (the planted one), as a user's shell would have it."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """``Emulator.serve_forever`` replaced: what it was given is recorded, it reports ready at once and returns."""
    given: dict[str, object] = {}

    def serve_forever(host: str, port: int, *, ready: Callable[[str], None], **options: object) -> None:
        given.update(host=host, port=port, **options)
        ready("http://127.0.0.1:4321")

    monkeypatch.setattr(Emulator, "serve_forever", serve_forever)
    monkeypatch.delenv("QWEN_CI_EMULATOR_KEY", raising=False)
    return given


def help_text(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    """What ``qwen-ci COMMAND --help`` prints (it exits 0), its white space folded: argparse wraps to the
    terminal's width."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())
