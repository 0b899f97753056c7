"""The defaults a user relies on without setting anything, as the README's configuration table and
region paragraph state them: found by the mutation sweep (issue 26), whose tool cannot mutate values
set at import time (qwen_ci_tool/_constants.py), so each was broken by hand."""

from __future__ import annotations

import inspect
from pathlib import Path

import httpx
import pytest

from qwen_ci_tool import (
    AdaptiveLimiter,
    AsyncCodeInterpreter,
    CodeInterpreter,
    ConfigurationError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    _engine,
)
from qwen_ci_tool._batch import BatchPlan
from qwen_ci_tool._config import build_messages, resolve_settings
from qwen_ci_tool._sse import SSEParser

from ..conftest import FakeClock
from ._frames import native_frame
from ._mock import MODES, Chunks, Script, run, sse_response

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _readme_defaults() -> dict[str, str]:
    """keyword -> the default column of the README's configuration table."""
    table = README.split("| keyword | CLI | environment | default | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| `")]
    return {row[0].strip("| `"): row[3].strip("`") for row in rows}


def test_with_nothing_set_a_client_has_the_defaults_the_readme_table_lists() -> None:
    shown = _readme_defaults()
    s = resolve_settings(env={})
    assert (s.region or "beijing", s.protocol, s.model) == (shown["region"], shown["protocol"], shown["model"])
    assert s.responses_path == shown["responses_path"] == "/compatible-mode/v1/responses"
    assert (shown["connect_timeout"], shown["idle_timeout"], shown["total_timeout"]) == ("10 s", "180 s", "900 s")
    assert (s.connect_timeout, s.idle_timeout, s.total_timeout) == (10.0, 180.0, 900.0)
    assert s.max_retries == int(shown["max_retries"]) == 2
    assert (shown["region"], shown["protocol"], shown["model"]) == ("beijing", "dashscope", "qwen3-max")


@pytest.mark.parametrize(
    ("region", "root"),
    [
        (None, "https://dashscope.aliyuncs.com"),
        ("beijing", "https://dashscope.aliyuncs.com"),
        ("singapore", "https://dashscope-intl.aliyuncs.com"),
        ("virginia", "https://dashscope-us.aliyuncs.com"),
        ("us", "https://dashscope-us.aliyuncs.com"),
    ],
)
def test_each_region_calls_the_root_the_readme_names(region: str | None, root: str) -> None:
    assert f"`{root}`" in README
    with CodeInterpreter(api_key="sk-test", region=region) as ci:
        assert ci.base_url == root


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("jitter", "share"), [(0.0, 1.0), (1.0, 0.75)], ids=["no jitter", "most jitter"])
async def test_retries_wait_half_a_second_doubling_to_at_most_eight_less_up_to_a_quarter(
    mode: str, jitter: float, share: float, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine.random, "random", lambda: jitter)
    busy = httpx.Response(503, json={"code": "ServiceUnavailable", "message": "busy"})
    script = Script(*[busy] * 6, lambda: sse_response(native_frame(1, content="ok", finish="stop")))
    result = await run(mode, script, max_retries=6)
    assert result.answer == "ok" and len(script.requests) == 7
    assert fake_clock.sleeps == pytest.approx([s * share for s in (0.5, 1.0, 2.0, 4.0, 8.0, 8.0)])


def test_input_of_500_000_characters_is_sent_and_one_more_is_refused_naming_both_counts() -> None:
    assert build_messages("x" * 500_000, None) == [{"role": "user", "content": "x" * 500_000}]
    with pytest.raises(ConfigurationError) as caught:
        build_messages("x" * 500_001, None)
    assert caught.value.message.startswith("The input is 500,001 characters; the limit is 500,000.")


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_body_is_read_up_to_one_mebibyte(mode: str) -> None:
    stream = Chunks([b"<html>" + b"x" * (64 * 1024 - 6)] * 32)  # 64 KiB each, 2 MiB in all
    page = httpx.Response(502, headers={"content-type": "text/html"}, stream=stream)
    with pytest.raises(InternalServerError, match="HTML page"):
        await run(mode, lambda r: page, max_retries=0)
    assert stream.served == 16


def test_an_event_stream_line_may_be_64_mebibytes_and_not_one_byte_more() -> None:
    parser = SSEParser()
    assert parser.feed(b"data:" + b"x" * (64 * 1024 * 1024 - 5)) == []
    with pytest.raises(ProtocolError, match="longer than 67108864 bytes"):
        parser.feed(b"x")


def test_a_batch_runs_four_calls_at_once_unless_told_otherwise_as_the_readme_says() -> None:
    assert "at most `concurrency` calls at a time (default 4)" in " ".join(README.split())
    for cls in (CodeInterpreter, AsyncCodeInterpreter):
        assert inspect.signature(cls.run_many).parameters["concurrency"].default == 4
    assert AdaptiveLimiter().max_concurrency == 4


def test_the_first_rate_limit_of_a_batch_without_retry_after_pauses_new_calls_one_second() -> None:
    limiter = AdaptiveLimiter(4)
    limiter.finish(limiter.start(10.0), 10.0, "rate_limited")
    assert limiter.delay(10.0) == pytest.approx(1.0)


def test_a_batch_task_refused_by_rate_limits_is_sent_again_20_times_then_fails() -> None:
    plan = BatchPlan(["a"], AdaptiveLimiter(1))
    outcomes = []
    for i in range(21):
        task, ticket = plan.next(float(i * 100))  # type: ignore[misc]
        refused = RateLimitError("throttled", status_code=429, retry_after=0.0)
        outcomes.append(plan.settle(task, ticket, refused, float(i * 100)))
    assert outcomes[:20] == [None] * 20
    last = outcomes[20]
    assert last is not None and last.status == "failed" and last.retryable
