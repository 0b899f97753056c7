"""Behaviours only `make mutate KINDS=names` broke (issue 26, continued): a bound swapped for another constant, a
loop that went on after its consumer left. Each test fails with its break."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import httpx
import pytest

from qwen_ci_tool import AdaptiveLimiter, BatchTask, InternalServerError
from qwen_ci_tool._batch import Began, run_many_async
from qwen_ci_tool._telemetry import capture_content

from ._frames import native_frame
from ._mock import MODES, Script, run, sse_response
from .test_limiter import admit_paced, fill, run_paced

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_bunch_of_eight_admitted_whole_still_paces_starts_in_groups_of_at_most_four() -> None:
    limiter = AdaptiveLimiter(64)
    now = 0.0
    bunches = []
    for _ in range(5):  # bunches started together as answers come: 1, 1, 2, 4, 8, each admitted whole
        tickets = fill(limiter, now)
        for ticket in tickets:
            limiter.finish(ticket, now + 0.01, "ok")
        bunches.append(len(tickets))
        now += 0.01
    assert bunches == [1, 1, 2, 4, 8] and limiter.rate is None
    limiter.finish(limiter.start(now), now, "rate_limited", retry_after=0.1)  # the service: 10/s
    groups = run_paced(limiter, now + 0.1, 40)
    # The README: "paced starts go in groups of that size (at most 4)".
    assert max(size for size, _ in groups) == 4 and limiter.burst == 4


def test_after_a_cut_the_rate_is_back_at_the_refused_rate_after_48_admissions_as_the_readme_says() -> None:
    limiter = AdaptiveLimiter(64)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.1)  # refused at 10/s: 9.5/s now
    limiter.finish(limiter.start(1.0), 1.0, "ok")  # the first start after the pause: no probe
    now, seen = 1.0, []
    for _ in range(48):
        now = admit_paced(limiter, now, 1)
        seen.append(limiter.rate)
    assert limiter.rate == 10.0 and seen[46] < 10.0  # "back to the refused rate within 48 admissions"


def test_without_a_retry_after_each_admission_raises_the_rate_by_an_eighth_as_the_readme_says() -> None:
    limiter = AdaptiveLimiter(64)
    limiter.admitted(limiter.start(0.0), 0.001)
    limiter.finish(limiter.start(0.002), 0.003, "rate_limited")  # no Retry-After: a search from what was admitted
    now = limiter.paused_until
    limiter.admitted(limiter.start(now), now)  # the first start after the pause: no probe
    start = limiter.rate
    assert start is not None
    admit_paced(limiter, now, 5)
    assert limiter.rate == pytest.approx(start * 1.125**5)  # "climbs by 12.5% per admission"


async def test_leaving_an_async_batch_while_two_outcomes_wait_ends_it_without_yielding_the_second() -> None:
    second_started = anyio.Event()

    async def call(task: BatchTask, began: Began) -> Any:
        began(lambda: None)  # type: ignore[arg-type,return-value]
        if task.id == "1":  # the second call fails at once and wakes the first, which fails too:
            second_started.set()  # both outcomes are in the inbox before the loop runs again
        else:
            await second_started.wait()
        raise RuntimeError(task.id)

    taken = []
    with anyio.fail_after(5):
        async with contextlib.aclosing(run_many_async(call, ["a", "b"], AdaptiveLimiter(2))) as outcomes:  # type: ignore[arg-type]
            async for outcome in outcomes:
                taken.append(outcome)
                break  # aclose: a generator that yields again here raises "ignored GeneratorExit"
    assert [o.status for o in taken] == ["failed"]


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_x_request_id_header_gives_way_to_the_dashscope_request_id_header(mode: str) -> None:
    headers = {"x-request-id": "", "x-dashscope-request-id": "ds-rid-4"}
    failed = httpx.Response(500, headers=headers, json={"code": "InternalError", "message": "boom"})
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(failed), max_retries=0)
    assert info.value.request_id == "ds-rid-4"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "nulls",
    [{"output_tokens_details": None}, {"plugins": None}, {"plugins": {"code_interpreter": None}}],
    ids=["details", "plugins", "code_interpreter"],
)
async def test_usage_parts_sent_as_null_count_as_zero_and_the_rest_is_read(mode: str, nulls: dict[str, Any]) -> None:
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, **nulls}
    frames = native_frame(1, content="42", finish="stop", usage=usage)
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert result.answer == "42"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (10, 5, 15)
    assert (result.usage.reasoning_tokens, result.usage.code_interpreter_calls) == (0, 0)


def test_content_capture_is_switched_on_by_the_variable_the_readme_names() -> None:
    assert capture_content({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"})
    assert not capture_content({})
