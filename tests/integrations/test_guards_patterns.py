"""Guards from a sweep of break patterns other than boundaries (issue 26). Each test here was
checked to fail with its one-line break of the integration."""

from __future__ import annotations

from qwen_ci_tool import AnswerDelta, StreamStarted

from .test_langchain_fold import fold_deltas


def test_a_key_sent_as_none_is_not_sent_again_as_none_at_the_end() -> None:
    deltas, _ = fold_deltas([StreamStarted(None, "qwen3-max", "dashscope"), AnswerDelta("42")])
    assert [d["request_id"] for d in deltas if "request_id" in d] == [None], "each key is sent once"
