"""A batch task given as a ``BatchTask`` with only messages (a class-body break of its defaults), and a task throttled
after the last was taken (issue 26)."""

from __future__ import annotations

import json

import pytest

from qwen_ci_tool import BatchTask, InternalServerError, RateLimitError
from qwen_ci_tool._batch import BatchPlan
from qwen_ci_tool._limiter import AdaptiveLimiter

from ._frames import native_frame
from ._mock import Script, clients, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_batch_task_given_only_messages_sends_those_messages() -> None:
    script = Script(lambda: sse_response(native_frame(1, content="42", finish="stop")))
    sync, _ = clients(script)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "6 * 7?"}]
    with sync:
        outcomes = list(sync.run_many([BatchTask("a", messages=messages)]))
    assert [(o.id, o.status) for o in outcomes] == [("a", "completed")]
    assert json.loads(script.requests[0].content)["input"]["messages"] == messages


def test_a_task_throttled_after_the_last_task_was_taken_is_sent_again_not_dropped() -> None:
    plan = BatchPlan(["first", "second"], AdaptiveLimiter(3))
    first = plan.next(0.0)
    assert isinstance(first, tuple)
    plan.began(first[1], 0.0, lambda: None)  # type: ignore[arg-type,return-value]  # admitted: the next may go
    second = plan.next(0.0)
    assert isinstance(second, tuple)
    plan.began(second[1], 0.0, lambda: None)  # type: ignore[arg-type,return-value]
    assert plan.next(0.0) is None  # a free slot, but every task taken: wait for the calls in flight
    throttled = RateLimitError("throttled", status_code=429, retry_after=1.0)
    assert plan.settle(*second, throttled, 0.1) is None  # back in the queue: nothing was done
    assert plan.settle(*first, InternalServerError("boom", status_code=500), 0.2) is not None
    assert plan.next(0.2) == pytest.approx(0.9)  # the rest of the pause the 429 asked for, then the task again
    again = plan.next(1.1)
    assert isinstance(again, tuple) and again[0] == second[0]
