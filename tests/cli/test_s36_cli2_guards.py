"""Quiet effects of ``qwen-ci models`` and ``qwen-ci emulator`` (issue 26, s36-cli2): each field of the JSON
table taken from its own column, letters outside ASCII kept, the ready line flushed before serving. Each test
fails with the break named in it."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from qwen_ci_tool import AdaptiveLimiter, BadRequestError, InternalServerError
from qwen_ci_tool._batch import BatchOutcome
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._model_table import MODELS, ModelInfo
from qwen_ci_tool._protocols._base import USER_AGENT
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.batch import Progress
from qwen_ci_tool.cli.doctor import diagnose, failed
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY

_MAIN = importlib.import_module("qwen_ci_tool.cli.main")  # the module: `qwen_ci_tool.cli.main` is the function


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_models_json_gives_each_row_of_the_table_field_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    # Breaks: "native_endpoint" (or "note") filled from another column of the row (s36-cli2 m03).
    rows = (
        ModelInfo(
            "qwen-a*",
            frozenset({"responses", "dashscope"}),
            "multimodal-generation",
            "note a",
            disputed=frozenset({"openai"}),
            disagreement="why a",
        ),
        ModelInfo("qwen-b", frozenset({"openai"}), "text-generation", "note b"),
    )
    monkeypatch.setattr(_MAIN, "MODELS", rows)

    code, out, _ = _cli("models", "--json")

    assert code == 0
    assert json.loads(out) == [
        {
            "model": "qwen-a*",
            "protocols": ["dashscope", "responses"],
            "disputed": ["openai"],
            "disagreement": "why a",
            "native_endpoint": "multimodal-generation",
            "note": "note a",
        },
        {
            "model": "qwen-b",
            "protocols": ["openai"],
            "disputed": [],
            "disagreement": None,
            "native_endpoint": "text-generation",
            "note": "note b",
        },
    ]


def test_models_json_keeps_letters_outside_ascii_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    # Breaks: ensure_ascii=True in _models (a note "\\u901a\\u4e49" instead of the vendor's own words; m04).
    row = dataclasses.replace(MODELS[0], note="通义千问 – série")
    monkeypatch.setattr(_MAIN, "MODELS", (row,))

    code, out, _ = _cli("models", "--json")

    assert code == 0 and '"note": "通义千问 – série"' in out and json.loads(out)[0]["note"] == row.note


class _BlockBuffered(io.TextIOWrapper):
    """A stderr that keeps what is written until flushed (not a terminal, not line-buffered)."""

    def __init__(self) -> None:
        self.raw_bytes = io.BytesIO()
        super().__init__(self.raw_bytes, encoding="utf-8", line_buffering=False, write_through=False)


def test_the_emulator_ready_line_is_flushed_before_it_starts_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    # Breaks: `stderr.flush()` dropped in _serve_emulator's ready (a script waiting for the line on a pipe
    # whose stderr is block-buffered would wait for as long as the emulator serves; s02).
    err = _BlockBuffered()
    seen_when_ready: list[bytes] = []

    def serve_forever(host: str, port: int, *, ready: Callable[[str], None], **options: object) -> None:
        ready("http://127.0.0.1:4321")
        seen_when_ready.append(err.raw_bytes.getvalue())  # what a reader of the pipe has while serving

    monkeypatch.setattr(Emulator, "serve_forever", serve_forever)
    monkeypatch.delenv("QWEN_CI_EMULATOR_KEY", raising=False)

    assert main(["emulator"], stdout=io.StringIO(), stderr=err) == 0
    assert seen_when_ready[0].decode().startswith("Emulator serving on http://127.0.0.1:4321 - use it as base_url")


# --- batch progress text (pure: counts and a time) -----------------------------------------------------


def test_the_bar_says_no_time_left_before_a_task_finished_and_zero_left_once_all_are_done() -> None:
    # Breaks: `if left is not None` -> `if left` (the finished bar loses its "~0.0s left"; p01).
    progress = Progress(total=1, started_at=100.0)
    assert " left" not in progress.bar(104.0, AdaptiveLimiter(2))  # not known yet: no task finished
    progress.add(BatchOutcome("a", "failed", error=BadRequestError("no", status_code=400)))

    assert progress.bar(104.0, AdaptiveLimiter(2)).endswith("4.0s elapsed · ~0.0s left")


def test_a_batch_with_no_task_to_send_draws_an_empty_bar() -> None:
    # Breaks: the clamp `max(self.total, 1)` removed (a ZeroDivisionError when nothing is left to send; p03).
    bar = Progress(total=0, started_at=0.0).bar(1.0, AdaptiveLimiter(2))

    assert bar.startswith("[" + "." * 24 + "] 0/0 done · 0 failed · 0 in flight · 0 tokens · 1.0s elapsed")


def test_the_summary_names_the_most_frequent_error_first() -> None:
    # Breaks: `self.errors.most_common()` -> `self.errors.items()` (the order they first happened in; p02).
    progress = Progress(total=4, started_at=0.0)
    progress.add(BatchOutcome("a", "failed", error=BadRequestError("no", status_code=400)))
    for task in "bcd":
        progress.add(BatchOutcome(task, "failed", error=InternalServerError("boom", status_code=500)))

    assert "4 failed (InternalServerError 3, BadRequestError 1); wall time" in progress.summary(2.0)


def test_a_failed_tasks_log_line_for_an_error_without_a_message_ends_after_its_kind() -> None:
    # Breaks: the `if str(outcome.error) else ""` dropped (an IndexError from an empty message's first line; p04).
    progress = Progress(total=1, started_at=0.0)
    outcome = BatchOutcome("a", "failed", error=TimeoutError())
    progress.add(outcome)

    assert progress.line(outcome) == "[1/1] a failed: TimeoutError (not retryable): "


# --- doctor: the one request it sends -----------------------------------------------------------------


def test_the_doctors_model_list_request_asks_for_json_names_the_tool_and_waits_only_the_connect_timeout() -> None:
    # Breaks: the Accept or User-Agent header dropped from _ask, or its `timeout=settings.connect_timeout` (then
    # httpx's own 5 s, not the setting; d17 d18 d19).
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": [{"id": "qwen3-max"}]})

    settings = resolve_settings(api_key=PLANTED_KEY, region="beijing", model="qwen3-max", connect_timeout=7.5, env={})
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        checks = diagnose(settings, client)

    assert not failed(checks) and len(sent) == 1
    assert sent[0].headers["accept"] == "application/json" and sent[0].headers["user-agent"] == USER_AGENT
    assert sent[0].extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


# --- ask --export ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run.ipynb", "run.md", "run.py"])
def test_an_exported_file_ends_with_one_newline_as_a_text_file_does(name: str, tmp_path: Path) -> None:
    # Breaks: the `+ "\n"` after the notebook's json.dumps dropped (a file without a final newline; e02).
    path = tmp_path / name
    code, _, err = _cli("ask", "--emulator", "--export", str(path), SEED_QUESTION)

    text = path.read_text(encoding="utf-8")
    assert code == 0 and f"Wrote {path}." in err
    assert text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(("status", "blames_a_proxy"), [(407, True), (401, False), (200, False)])
def test_only_a_407_page_that_is_not_the_services_json_is_blamed_on_a_proxy(status: int, blames_a_proxy: bool) -> None:
    # Breaks: `answer.status == 407` -> `in (401, 407)` (a wrong host's login page sent to the proxy fix; d14).
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="<html>sign in</html>", headers={"content-type": "text/html"})

    settings = resolve_settings(api_key=PLANTED_KEY, region="beijing", model="qwen3-max", env={})
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        reachable = diagnose(settings, client)[1]

    assert reachable.name == "endpoint reachable" and reachable.status == "fail"
    assert f"answered HTTP {status} with text/html, not the service's JSON" in reachable.detail
    assert ("(the proxy asks for authentication)" in reachable.detail) is blames_a_proxy
    assert reachable.fix.startswith("Check HTTPS_PROXY") is blames_a_proxy
