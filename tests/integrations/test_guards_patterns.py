"""Guards from a sweep of break patterns other than boundaries (issue 26). Each test here was
checked to fail with its one-line break of the integration."""

from __future__ import annotations

from integrations._langchain_fold import DeltaFolder
from qwen_ci_tool import AnswerDelta, Completed, StreamEvent, StreamStarted, Timings
from qwen_ci_tool._accumulator import Accumulator


def test_a_key_sent_as_none_is_not_sent_again_as_none_at_the_end() -> None:
    events: list[StreamEvent] = [StreamStarted(None, "qwen3-max", "dashscope"), AnswerDelta("42")]
    acc = Accumulator(model="qwen3-max", protocol="dashscope")
    for event in events:
        acc.apply(event)
    result = acc.build(finish_reason="stop", timings=Timings(0.1, 0.2))
    folder = DeltaFolder()
    deltas = [d for d in (folder.feed(e) for e in [*events, Completed(result)]) if d is not None]
    assert [d["request_id"] for d in deltas if "request_id" in d] == [None], "each key is sent once"
