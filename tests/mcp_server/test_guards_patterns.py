"""Guards from a sweep of break patterns other than boundaries (issue 26): a condition dropped, a
``not`` flipped, a wrong field or variable read, a message naming the wrong setting. Each test here
was checked to fail with its one-line break of the server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_server import _texts as T
from mcp_server.__main__ import _credentials, _run_store, build_parser, main
from mcp_server._ops import Ops
from mcp_server.http import app as http_app
from mcp_server.http.auth import AUTH_TOKEN_ENV, Credentials
from mcp_server.http.routes import OpsMiddleware
from mcp_server.runs.memory import MemoryRunStore
from mcp_server.runs.progress import Progress
from mcp_server.runs.records import RUN_STORE_ENV, RunRecord, shown_url
from qwen_ci_tool import _constants as C
from qwen_ci_tool._config import SETTINGS

from ..conftest import PLANTED_KEY

pytestmark = pytest.mark.anyio


def test_a_run_store_url_is_logged_with_its_password_masked_and_the_user_and_port_kept() -> None:
    assert shown_url("redis://:s3cret@cache.internal:6380/0") == "redis://:***@cache.internal:6380/0"
    assert shown_url("rediss://app:s3cret@cache.internal/1") == "rediss://app:***@cache.internal/1"


def test_a_run_store_url_without_a_password_is_logged_as_it_is() -> None:
    assert shown_url("redis://app@cache.internal:6380/0") == "redis://app@cache.internal:6380/0"
    assert shown_url("redis://cache.internal:6379/0") == "redis://cache.internal:6379/0"


class _Ctx:
    def __init__(self) -> None:
        self.sent: list[tuple[float, Any, str]] = []

    async def report_progress(self, progress: float, total: Any, message: str) -> None:
        self.sent.append((progress, total, message))


async def test_a_progress_report_sends_its_message_and_a_report_without_one_sends_the_stage() -> None:
    ctx = _Ctx()
    progress = Progress(ctx, 5.0)  # type: ignore[arg-type]
    await progress.report("running code", "running code (run 2)")
    await progress.report("writing the answer")
    assert [m for _, _, m in ctx.sent] == ["running code (run 2)", "writing the answer"]
    assert [n for n, _, _ in ctx.sent] == [1, 2]


async def test_a_heartbeat_says_the_time_since_the_call_started_not_since_the_last_report() -> None:
    ctx = _Ctx()
    progress = Progress(ctx, 5.0)  # type: ignore[arg-type]
    await progress.report("thinking")
    progress._started -= 100.0  # the call began 100 s ago; the last report 10 s ago
    progress._last -= 10.0
    await progress.beat_if_due()
    assert ctx.sent[-1][2] == "thinking (still working, 100 s elapsed)"


def test_the_pending_text_mentions_the_shared_store_only_when_it_is_down() -> None:
    common: dict[str, Any] = {"run_id": "run_x", "stage": "thinking", "elapsed": 3.0, "max_wait": 20.0, "ttl": 600.0}
    assert "run store" not in T.pending_text(**common, store_down=False)
    assert "run store this server shares with its replicas is unavailable" in T.pending_text(**common, store_down=True)


def test_the_result_tool_says_it_waits_max_wait_and_keeps_results_ttl() -> None:
    text = T.RESULT_TOOL_DESCRIPTION.format(max_wait=20, ttl=600)
    assert "Waits up to 20 s" in text and "kept 600 s after a run ends" in text


def test_too_many_runs_names_the_count_and_the_result_tool() -> None:
    text = T.too_many_runs_text(7)
    assert "already has 7 runs in progress" in text and T.RESULT_TOOL_NAME in text


def test_the_tools_are_annotated_as_the_call_bills_a_new_run_and_the_result_tool_reads_only_its_own_record() -> None:
    assert T.ANNOTATIONS.idempotent_hint is False and T.ANNOTATIONS.open_world_hint is True
    assert T.RESULT_ANNOTATIONS.idempotent_hint is True and T.RESULT_ANNOTATIONS.open_world_hint is False


def test_the_no_key_text_names_the_singapore_region_setting() -> None:
    assert "the server argument --region singapore" in T.NO_KEY_TEXT


# --- the operator's routes and the bearer check, driven as ASGI ----------------------------------------

TOKEN = "guards-token-0123456789abcdef"


async def _ask(
    path: str, headers: list[tuple[bytes, bytes]], *, ready: bool = True, token: str | None = TOKEN
) -> tuple[int, dict[bytes, bytes], bytes, list[str]]:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    credentials = Credentials.single(token) if token is not None else None
    middleware = OpsMiddleware(app, Ops(), credentials, ready=lambda: ready)
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
    await middleware(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, reached


async def test_readyz_says_ready_and_503_shutting_down() -> None:
    assert (await _ask("/readyz", []))[:3:2] == (200, b'{"status": "ready"}')
    assert (await _ask("/readyz", [], ready=False))[:3:2] == (503, b'{"status": "shutting down"}')


async def test_no_token_is_missing_token_and_a_wrong_one_is_invalid_token() -> None:
    status, headers, body, reached = await _ask("/mcp", [])
    assert status == 401 and json.loads(body)["error"]["data"] == {"error": "missing_token"} and not reached
    assert headers[b"www-authenticate"] == b'Bearer realm="qwen-ci-mcp"'  # RFC 6750: no error code when none sent
    status, headers, body, reached = await _ask("/mcp", [(b"authorization", b"Bearer wrong-token-0123456789")])
    assert status == 401 and json.loads(body)["error"]["data"] == {"error": "invalid_token"} and not reached
    assert headers[b"www-authenticate"] == b'Bearer realm="qwen-ci-mcp", error="invalid_token"'


async def test_a_token_with_spaces_around_it_is_accepted() -> None:
    status, _, _, reached = await _ask("/mcp", [(b"authorization", f"Bearer  {TOKEN} ".encode())])
    assert status == 200 and reached == ["/mcp"]


async def test_only_the_exact_metrics_path_answers_metrics_anything_else_goes_to_the_app() -> None:
    auth = [(b"authorization", f"Bearer {TOKEN}".encode())]
    status, _, body, reached = await _ask("/metrics", auth)
    assert status == 200 and b"qwen_ci" in body and not reached
    status, _, body, reached = await _ask("/metricsx", auth)
    assert body == b"app" and reached == ["/metricsx"]


async def test_a_request_id_is_kept_only_when_the_whole_of_it_looks_like_one() -> None:
    _, headers, _, _ = await _ask("/mcp", [(b"x-request-id", b"proxy-id.42")], token=None)
    assert headers[b"x-request-id"] == b"proxy-id.42"
    _, headers, _, _ = await _ask("/mcp", [(b"x-request-id", b"proxy-id 42; evil")], token=None)
    assert headers[b"x-request-id"] != b"proxy-id 42; evil" and len(headers[b"x-request-id"]) == 32


def test_a_lost_run_names_its_silence_in_seconds() -> None:
    assert "(no news for 30 s)" in T.lost_run_text(30.2)


async def test_a_store_wait_after_a_change_waits_for_the_next_change_not_the_one_already_seen() -> None:
    store = MemoryRunStore()
    first = RunRecord("run_a", started_at=0.0)
    await store.put(first)
    second, third = first.advanced(stage="thinking"), first.advanced(stage="thinking").advanced(stage="running code")
    seen: list[RunRecord | None] = []
    async with anyio.create_task_group() as tg:

        async def waiter(after: int) -> None:
            seen.append(await store.wait("run_a", after, 30))

        tg.start_soon(waiter, first.version)
        await anyio.wait_all_tasks_blocked()
        await store.put(second)
    assert seen == [second]
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, second.version)
            await anyio.wait_all_tasks_blocked()
            assert seen == [second], "the second wait must not return before the next change"
            await store.put(third)
    assert seen == [second, third]


# --- the server's own settings (its command line beats its environment) -------------------------------


def test_the_auth_token_argument_beats_the_environments_and_is_taken_without_surrounding_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(AUTH_TOKEN_ENV, "env-token-0123456789abcdef")
    credentials = _credentials(build_parser().parse_args(["--auth-token", f"  {TOKEN}\n"]))
    assert credentials is not None
    assert credentials.client_for(TOKEN.encode()) is not None
    assert credentials.client_for(b"env-token-0123456789abcdef") is None


def test_a_shared_token_and_a_token_file_together_are_refused(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice:{TOKEN}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not both"):
        _credentials(build_parser().parse_args(["--auth-token", TOKEN, "--auth-token-file", str(tokens)]))


def test_the_run_store_argument_beats_the_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_STORE_ENV, "redis://from-env:6379/0")
    assert (
        _run_store(build_parser().parse_args(["--run-store", "redis://from-arg:6379/0"])) == "redis://from-arg:6379/0"
    )
    assert _run_store(build_parser().parse_args([])) == "redis://from-env:6379/0"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``main`` for streamable HTTP up to ``serve_http`` (faked: what it was given), the root logger kept."""
    seen: dict[str, Any] = {}

    async def fake_serve_http(server: Any, **settings: Any) -> None:
        seen.update(settings)

    monkeypatch.setattr(http_app, "serve_http", fake_serve_http)
    for name in (SETTINGS["api_key"].env, *SETTINGS["api_key"].vendor_env):
        monkeypatch.delenv(name, raising=False)
    loggers = [logging.getLogger(name) for name in ("", "httpx", "mcp.server.streamable_http")]
    handlers, levels = loggers[0].handlers[:], [logger.level for logger in loggers]
    try:
        yield seen
    finally:
        loggers[0].handlers[:] = handlers
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@pytest.mark.parametrize(("level", "uvicorn"), [("DEBUG", "info"), ("INFO", "warning")])
def test_the_http_servers_own_log_is_verbose_only_at_debug(served: dict[str, Any], level: str, uvicorn: str) -> None:
    assert main(["--transport", "streamable-http", "--port", "0", "--log-level", level]) == 0
    assert served["log_level"] == uvicorn


def test_a_server_started_without_a_key_warns_once_and_one_with_a_key_does_not(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--transport", "streamable-http", "--port", "0"]) == 0
    assert f"{C.ENV_API_KEY} is not set" in capsys.readouterr().err
    monkeypatch.setenv(C.ENV_API_KEY, PLANTED_KEY)
    assert main(["--transport", "streamable-http", "--port", "0"]) == 0
    err = capsys.readouterr().err
    assert "is not set" not in err and PLANTED_KEY not in err
