"""The emulator's opt-in rate limit: a token bucket (fake clock), the real 429 body and
Retry-After on the wire, and a batch that slows down under it and still completes."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import AdaptiveLimiter, APITimeoutError, CodeInterpreter, RateLimitError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator
from qwen_ci_tool.testing._throttle import Throttle


def test_the_bucket_admits_the_rate_and_says_how_long_to_wait_beyond_it() -> None:
    bucket = Throttle(rate=10.0, burst=2.0)
    assert bucket.admit(0.0) is None and bucket.admit(0.0) is None
    assert bucket.admit(0.0) == pytest.approx(0.1)
    assert bucket.admit(0.05) == pytest.approx(0.05)  # half a token came back
    assert bucket.admit(0.1) is None
    assert bucket.admit(10.0) is None and bucket.admit(10.0) is None  # refills only up to the burst
    assert bucket.admit(10.0) is not None


@pytest.mark.parametrize("bad", [{"rate": 0.0}, {"rate": 1.0, "burst": 0.5}])
def test_a_bucket_without_a_rate_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        Throttle(**bad)


def test_above_the_rate_the_emulator_answers_429_with_retry_after_and_the_service_body() -> None:
    with Emulator(rate_limit=0.5) as emu:  # one request every two seconds: the second one is refused
        url = f"{emu.base_url}/api/v1/services/aigc/text-generation/generation"
        body = {"model": "qwen3-max", "input": {"messages": [{"role": "user", "content": "hi"}]}, "parameters": {}}
        headers = {"Authorization": "Bearer sk-test", "X-DashScope-SSE": "enable"}
        with httpx.Client(timeout=5) as http:
            assert http.post(url, json=body, headers=headers).status_code != 429  # admitted (then judged)
            refused = http.post(url, json=body, headers=headers)
        assert refused.status_code == 429
        assert 0.0 < float(refused.headers["retry-after"]) <= 2.0
        data = refused.json()
        assert data["code"] == "Throttling.RateQuota" and data["message"] and data["request_id"]
        assert emu.throttled == 1 and len(emu.requests) == 2


def test_a_request_without_an_accepted_key_is_refused_for_the_key_and_is_not_counted_by_the_throttle() -> None:
    # The quota is an account's: a user who forgot the key hears about the key (401), not a wait (429).
    with Emulator(rate_limit=0.5, api_key="sk-right") as emu:
        url = f"{emu.base_url}/api/v1/services/aigc/text-generation/generation"
        body = {"model": "qwen3-max", "input": {"messages": [{"role": "user", "content": "hi"}]}, "parameters": {}}
        with httpx.Client(timeout=5) as http:
            statuses = [
                http.post(url, json=body, headers={"X-DashScope-SSE": "enable", **auth}).status_code
                for auth in ({}, {"Authorization": "Bearer sk-wrong"}, {}, {"Authorization": "Bearer sk-right"})
            ]
            again = http.post(url, json=body, headers={"Authorization": "Bearer sk-right"})
    # The keyless ones took no token: the first keyed one is admitted (then judged on its parameters).
    assert statuses[:3] == [401, 401, 401] and statuses[3] not in (401, 429)
    assert again.status_code == 429 and emu.throttled == 1


def test_a_batch_above_the_rate_slows_down_and_every_task_still_completes() -> None:
    with (
        Emulator(rate_limit=400.0) as emu,
        CodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=0) as ci,
    ):
        limiter = AdaptiveLimiter(8)
        outcomes = list(ci.run_many([SEED_QUESTION] * 40, limiter=limiter))
    assert [o.status for o in outcomes] == ["completed"] * 40
    assert emu.throttled > 0 and limiter.cuts >= 1 and limiter.rate_limited == emu.throttled
    assert len(emu.requests) == 40 + emu.throttled


def test_an_evenly_spaced_quota_refuses_a_start_sooner_than_one_interval_after_the_last_admitted() -> None:
    spaced = Throttle(rate=10.0)  # the emulator's default burst of 1: no two starts within 0.1 s
    assert spaced.admit(0.0) is None
    assert spaced.admit(0.04) == pytest.approx(0.06)  # the rest of the interval, as Retry-After
    assert spaced.admit(0.08) == pytest.approx(0.02)  # a refused start takes no slot
    assert spaced.admit(0.1) is None
    assert spaced.admit(0.3) is None and spaced.admit(0.3) is not None  # idle time buys no burst


def test_calls_that_last_seconds_send_all_but_their_last_event_at_once() -> None:
    with (
        Emulator(call_seconds=30.0) as emu,
        CodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=0, idle_timeout=0.5) as ci,
    ):
        with pytest.raises(APITimeoutError) as caught:  # the last event is 30 s away
            ci.run(SEED_QUESTION)
    partial = caught.value.partial
    assert caught.value.kind == "idle" and partial is not None
    assert partial.usage.total_tokens > 0 and partial.code_runs  # everything up to the end had arrived
    assert partial.finish_reason is None


def test_the_throttle_can_name_its_wait_openai_style_or_not_at_all() -> None:
    bucket = Throttle(rate=10.0, burst=4.0)
    assert bucket.refusal_headers(0.05, "retry-after") == [("retry-after", "0.050")]
    assert dict(bucket.refusal_headers(0.05, "x-ratelimit")) == {
        "x-ratelimit-limit-requests": "4",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "0.350s",  # the next token in 0.05 s, three more 0.1 s apart
    }
    assert bucket.refusal_headers(0.05, "none") == []
    with pytest.raises(ValueError, match="rate_limit_headers"):
        Emulator(rate_limit=1.0, rate_limit_headers="x-rate")  # type: ignore[arg-type]


@pytest.mark.parametrize(("style", "named"), [("retry-after", True), ("x-ratelimit", True), ("none", False)])
def test_the_client_reads_the_throttle_as_a_rate_limit_with_the_wait_its_headers_name(style: str, named: bool) -> None:
    with (
        Emulator(rate_limit=0.5, rate_limit_headers=style) as emu,  # type: ignore[arg-type]
        CodeInterpreter(api_key="sk-test", base_url=emu.base_url, max_retries=0) as ci,
    ):
        ci.run(SEED_QUESTION)
        with pytest.raises(RateLimitError) as caught:
            ci.run(SEED_QUESTION)
    assert caught.value.retryable
    wait = caught.value.retry_after
    assert (wait is not None and 0.0 < wait <= 2.0) if named else wait is None
