"""Behaviours audit 11 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from qwen_ci_tool._batch import BatchTask, Began, run_many_sync
from qwen_ci_tool._limiter import AdaptiveLimiter

from ._frames import native_stream
from ._mock import Script, clients, sse_response


def test_the_native_multimodal_path_gets_text_as_a_part_and_parts_as_they_came() -> None:
    # A message whose content is a string becomes one text part; one already given as parts is sent
    # as it came (not wrapped again as the text of a part).
    script = Script(lambda: sse_response(native_stream()))
    sync, _ = clients(script, model="qwen3.5-plus", protocol="dashscope")
    messages = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": [{"text": "What is 2**20?"}]},
    ]
    with sync:
        sync.run(messages=messages)
    sent = json.loads(script.requests[0].content)["input"]["messages"]
    assert script.requests[0].url.path.endswith("/multimodal-generation/generation")
    assert sent == [
        {"role": "system", "content": [{"text": "Be exact."}]},
        {"role": "user", "content": [{"text": "What is 2**20?"}]},
    ]


def test_a_sync_batch_starts_nothing_before_the_pause_a_refusal_asked_for_ends() -> None:
    # The limiter honours a Retry-After of 0.5 s, on the monotonic clock: the batch's next start comes
    # after it (a lower bound only: it may be late on a busy machine, never early).
    limiter = AdaptiveLimiter(2)
    refused_at = time.monotonic()
    limiter.finish(limiter.start(refused_at), refused_at, "rate_limited", retry_after=0.5)
    started: list[float] = []

    def call(task: BatchTask, stop: threading.Event, began: Began) -> Any:
        started.append(time.monotonic())
        raise RuntimeError(task.id)

    outcomes = list(run_many_sync(call, ["a"], limiter))  # type: ignore[arg-type]
    assert len(outcomes) == 1 and started[0] >= refused_at + 0.5


def test_the_limiter_forgets_each_call_once_it_was_answered_so_a_long_batch_does_not_grow_it() -> None:
    # A call's bunch is judged once, at its answer; holding every answered call's entry would grow the
    # limiter by one per task over a batch of any length.
    limiter = AdaptiveLimiter(4)
    for round_ in range(50):
        now = float(round_)
        tickets = [limiter.start(now) for _ in range(4)]
        for ticket in tickets:
            limiter.admitted(ticket, now)
            limiter.finish(ticket, now, "ok")
    assert limiter.burst == 4 and limiter._bunch_of == {}
