"""What one run leaves for the operator (``_ops``) and how log lines are written and masked (``_logs``), in
process (issue 26, mutation sweep): the call's summary line and its fields, its outcome and error in
/metrics whatever ended it, the request context in log lines, JSON lines, the noisy loggers quieted.
Each test was checked to fail with the breaks it names (mutmut, or by hand)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable

import anyio
import pytest
from mcp.server.mcpserver import MCPServer

from mcp_server import _ops
from mcp_server._logs import MASK, JSONFormatter, Redactor, configure_logging
from mcp_server._ops import ContextFilter, Ops, serving
from qwen_ci_tool import AuthenticationError, CodeInterpreterResult
from qwen_ci_tool.testing import Emulator, Fault

from .test_ops import metric_samples, value
from .test_tool import call

pytestmark = pytest.mark.anyio


class _Clock:
    """``time`` for ``_ops`` alone: monotonic() returns each of *readings* in turn."""

    def __init__(self, *readings: float) -> None:
        self._readings = list(readings)

    def monotonic(self) -> float:
        return self._readings.pop(0)


@pytest.fixture
def summaries(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """The call summary lines logged so far (``call ...``)."""
    caplog.set_level(logging.INFO, logger="mcp_server")
    return lambda: [r for r in caplog.records if r.getMessage().startswith("call ")]


def result(request_id: str | None = "req-up-1", **usage: int) -> CodeInterpreterResult:
    return CodeInterpreterResult.from_dict(
        {"answer": "42", "status": "completed", "protocol": "dashscope", "usage": usage, "request_id": request_id}
    )


def calls(ops: Ops, outcome: str, error: str = "", client: str = "local") -> float:
    samples = metric_samples(ops.metrics.exposition().decode())
    return value(samples, "qwen_ci_calls_total", client=client, outcome=outcome, error=error)


# --- the summary line of a call --------------------------------------------------------------------


def test_a_finished_call_logs_its_outcome_client_tokens_by_kind_duration_and_ids_at_info(
    summaries: Callable[[], list[logging.LogRecord]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ops, "time", _Clock(100.0, 101.23456))
    ops = Ops()
    with serving("alice", "req-in-1"), ops.track_call("run-7") as record:
        record.finished(result(input_tokens=11, output_tokens=22, reasoning_tokens=5, total_tokens=38))
    [line] = summaries()

    assert line.levelno == logging.INFO
    assert line.getMessage() == "call completed: client=alice tokens=38 in 1.2 s upstream_request_id=req-up-1"
    fields = {name: getattr(line, name, "missing") for name in ("outcome", "error", "duration_s", "tokens", "run_id")}
    assert fields == {
        "outcome": "completed",
        "error": None,
        "duration_s": 1.235,
        "tokens": {"input": 11, "output": 22, "reasoning": 5, "total": 38},
        "run_id": "run-7",
    }
    assert getattr(line, "upstream_request_id", None) == "req-up-1"
    samples = metric_samples(ops.metrics.exposition().decode())
    assert value(samples, "qwen_ci_call_duration_seconds_sum", outcome="completed") == pytest.approx(1.23456)


def test_a_failed_call_logs_a_warning_naming_its_error_and_counts_it_under_that_error(
    summaries: Callable[[], list[logging.LogRecord]],
) -> None:
    ops = Ops()
    ops.refused("ShuttingDown")
    [line] = summaries()

    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith("call failed (ShuttingDown): client=local tokens=0 in ")
    assert line.getMessage().endswith(" s upstream_request_id=None")
    assert getattr(line, "error", None) == "ShuttingDown" and getattr(line, "outcome", None) == "failed"
    assert getattr(line, "upstream_request_id", "missing") is None
    assert getattr(line, "tokens", None) == {"input": 0, "output": 0, "reasoning": 0, "total": 0}
    assert calls(ops, "failed", "ShuttingDown") == 1


def test_a_service_error_keeps_the_request_id_of_its_partial_and_counts_what_the_partial_used(
    summaries: Callable[[], list[logging.LogRecord]],
) -> None:
    ops = Ops()
    error = AuthenticationError("refused", status_code=401, request_id="req-err")
    with ops.track_call() as record:
        record.failed(error, result("req-partial", input_tokens=3, output_tokens=4, total_tokens=7))
    with ops.track_call() as record:
        record.failed(error, result(None, input_tokens=1, total_tokens=1))
    carried = AuthenticationError("refused", status_code=401, partial=result("req-own", output_tokens=2))
    with ops.track_call() as record:
        record.failed(carried)
    first, second, third = summaries()

    assert getattr(first, "upstream_request_id", None) == "req-partial"
    assert getattr(second, "upstream_request_id", None) == "req-err"  # the partial had none: the error's stays
    assert getattr(second, "tokens", None) == {"input": 1, "output": 0, "reasoning": 0, "total": 1}
    assert getattr(third, "upstream_request_id", None) == "req-own"  # the partial the error carries
    assert getattr(third, "tokens", {}).get("output") == 2
    assert calls(ops, "failed", "AuthenticationError") == 3
    samples = metric_samples(ops.metrics.exposition().decode())
    assert value(samples, "qwen_ci_tokens_total", client="local", kind="output") == 4 + 0 + 2


@pytest.mark.parametrize("raised", [None, "cancelled", ValueError("boom")])
def test_a_call_left_without_an_outcome_is_cancelled_or_failed_by_what_ended_it(
    raised: str | Exception | None, summaries: Callable[[], list[logging.LogRecord]]
) -> None:
    ops = Ops()

    async def run() -> None:
        with anyio.CancelScope() as scope, ops.track_call():
            if raised == "cancelled":
                scope.cancel()
                await anyio.sleep_forever()
            elif isinstance(raised, Exception):
                raise raised

    with pytest.raises(ValueError, match="boom") if isinstance(raised, Exception) else contextlib.nullcontext():
        anyio.run(run)
    [line] = summaries()

    if isinstance(raised, Exception):
        assert calls(ops, "failed", "ValueError") == 1 and line.getMessage().startswith("call failed (ValueError):")
    else:
        assert calls(ops, "cancelled") == 1 and line.getMessage().startswith("call cancelled: ")
        assert getattr(line, "error", "missing") is None
    assert getattr(line, "upstream_request_id", "missing") is None


def test_a_cancelled_call_stays_cancelled_whatever_ends_its_block_and_counts_its_partial(
    summaries: Callable[[], list[logging.LogRecord]],
) -> None:
    ops = Ops()

    def cancel_then_fail() -> None:
        with ops.track_call() as record:
            record.cancelled(result(input_tokens=9, total_tokens=9))
            raise RuntimeError("the stream's close failed")

    with pytest.raises(RuntimeError, match="close failed"):
        cancel_then_fail()

    assert calls(ops, "cancelled") == 1 and calls(ops, "failed", "RuntimeError") == 0
    assert getattr(summaries()[0], "tokens", {}).get("input") == 9


def test_a_call_counts_as_queued_only_while_it_waits_not_once_it_runs() -> None:
    ops = Ops()
    gauges: list[tuple[float, float]] = []

    def gauge() -> None:
        samples = metric_samples(ops.metrics.exposition().decode())
        gauges.append((value(samples, "qwen_ci_calls_queued"), value(samples, "qwen_ci_calls_in_flight")))

    with ops.track_call() as record:
        record.waiting()
        record.waiting()
        gauge()
        record.running()
        record.waiting()  # too late: it holds a slot
        gauge()
        record.finished(result())
    gauge()
    assert gauges == [(1, 0), (0, 1), (0, 0)]


def test_a_run_handle_is_logged_with_its_id_and_the_client_it_was_issued_to(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_server")
    with serving("bob", "req-2"):
        Ops().handle_issued("run-42")
    [line] = [r for r in caplog.records if "handle" in r.getMessage()]
    assert line.getMessage() == "run handle run-42 issued: client=bob"
    assert getattr(line, "run_id", None) == "run-42"


async def test_a_real_calls_summary_counts_the_tokens_and_request_id_the_result_reports(
    make_server: Callable[..., MCPServer], emu: Emulator, summaries: Callable[[], list[logging.LogRecord]]
) -> None:
    done = await call(make_server())
    emu.add_fault(Fault.status(401, "InvalidApiKey"))
    await call(make_server())
    completed, failed = summaries()
    record = done.structured_content or {}

    assert getattr(completed, "tokens", {})["total"] == record["usage"]["total_tokens"] > 0
    assert getattr(completed, "upstream_request_id", None) == record["request_id"] is not None
    assert failed.levelno == logging.WARNING and getattr(failed, "error", None) == "AuthenticationError"


# --- the context of a line, JSON lines, masking ------------------------------------------------------


def test_a_line_logged_while_serving_carries_that_client_and_request_id_unless_it_names_its_own() -> None:
    records = [logging.LogRecord("mcp_server", logging.INFO, __file__, 1, "x", (), None) for _ in range(2)]
    records[1].client, records[1].request_id = "given-client", "given-id"
    with serving("alice", "req-abc"):
        for record in records:
            ContextFilter().filter(record)
    entries = [json.loads(JSONFormatter(lambda text: text).format(r)) for r in records]

    assert (entries[0]["client"], entries[0]["request_id"]) == ("alice", "req-abc")
    assert (entries[1]["client"], entries[1]["request_id"]) == ("given-client", "given-id")


def test_a_json_line_has_a_utc_millisecond_stamp_its_logger_the_exception_and_text_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Shanghai")  # the stamp is UTC whatever the local zone
    time.tzset()
    try:
        raised = ValueError("boom")
        record = logging.LogRecord("mcp_server.runs", logging.ERROR, __file__, 1, "naïve %s", ("ünïcode",), None)
        record.exc_info = (ValueError, raised, None)
        record.created = 1_700_000_000.123456
        record.run_id = uuid.UUID(int=7)  # not JSON itself: written as its text
        line = JSONFormatter(lambda text: text).format(record)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    entry = json.loads(line)

    assert entry["time"] == "2023-11-14T22:13:20.123Z"
    assert entry["logger"] == "mcp_server.runs" and entry["level"] == "ERROR"
    assert entry["client"] is None and entry["request_id"] is None  # no context filter: still present
    assert "ValueError: boom" in entry["exception"]
    assert entry["run_id"] == "00000000-0000-0000-0000-000000000007"
    assert "naïve ünïcode" in line  # not \\u escapes: as the operator wrote it


def test_a_secret_inside_a_longer_one_is_masked_whole_whatever_their_order_and_an_empty_one_masks_nothing() -> None:
    inner, outer = "abc-0123456789", "Zabc-0123456789-more"  # the longer one sorts first, by text
    for redact in (Redactor([inner], lambda: [outer]), Redactor([outer, inner]), Redactor((), lambda: [inner, outer])):
        assert redact(f"a {outer} b {inner}") == f"a {MASK} b {MASK}"
    assert Redactor([""], lambda: [""])("nothing secret") == "nothing secret"


@pytest.mark.parametrize(("level", "noisy"), [("INFO", logging.WARNING), ("ERROR", logging.ERROR)])
def test_the_http_client_and_session_loggers_are_quieted_to_warning_or_the_level_if_higher(
    level: str, noisy: int, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ("", "httpx", "mcp.server.streamable_http")
    loggers = [logging.getLogger(name) for name in names]
    handlers, levels = loggers[0].handlers[:], [logger.level for logger in loggers]
    try:
        configure_logging(level, "text", lambda text: text)
        got = [logger.level for logger in loggers]
        logging.getLogger("mcp_server").error("to stderr")
    finally:
        loggers[0].handlers[:] = handlers
        for logger, old in zip(loggers, levels, strict=True):
            logger.setLevel(old)

    assert got == [logging.getLevelName(level), noisy, noisy]
    assert " ERROR mcp_server: to stderr\n" in capsys.readouterr().err
