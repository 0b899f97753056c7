"""The emulator's scripted conversations at their edges (found by ``make mutate KINDS=more``'s clamp kind): token
counts spread over deltas, and the benchmark conversation of few frames, still have every part."""

from __future__ import annotations

import pytest

from qwen_ci_tool.testing import synthetic_conversation
from qwen_ci_tool.testing._script import Answer, CodeSegment, Reasoning, spread


def test_spread_tokens_follow_each_deltas_length_and_sum_exactly() -> None:
    deltas = spread(["a", "bbbb", ""], 10, reasoning=True)
    assert [(d.text, d.output_tokens, d.reasoning_tokens) for d in deltas] == [("a", 2, 2), ("bbbb", 7, 7), ("", 1, 1)]
    assert [d.reasoning_tokens for d in spread(["a", "bb"], 6, reasoning=False)] == [0, 0]


def test_spread_gives_every_delta_a_token_even_an_empty_one_or_one_far_shorter() -> None:
    assert [d.output_tokens for d in spread(["", ""], 3, reasoning=False)] == [2, 1]
    assert [d.output_tokens for d in spread(["a", "b" * 9], 2, reasoning=False)] == [1, 1]


@pytest.mark.parametrize(("n_events", "code_runs", "code_chars"), [(1, 3, 2), (4, 3, 5), (7, 2, 1), (200, 3, 40)])
def test_a_synthetic_conversation_of_any_size_has_thinking_each_code_run_grown_whole_and_an_answer(
    n_events: int, code_runs: int, code_chars: int
) -> None:
    segments = synthetic_conversation(n_events, code_runs=code_runs, code_chars=code_chars).segments
    runs = [s for s in segments if isinstance(s, CodeSegment)]
    assert len(runs) == code_runs and all(isinstance(s, Reasoning) and s.deltas for s in segments[:-1:2])
    for run in runs:  # each frame shows more code, never an empty prefix, the last one all of it
        assert run.growth[0] >= 1 and list(run.growth) == sorted(run.growth) and run.growth[-1] == len(run.code)
    assert isinstance(segments[-1], Answer) and len(segments[-1].deltas) == max(1, n_events // 10)


def test_a_large_synthetic_conversation_has_about_as_many_frames_as_asked() -> None:
    segments = synthetic_conversation(200, code_runs=3, code_chars=2000).segments
    frames = sum(len(s.growth) if isinstance(s, CodeSegment) else len(s.deltas) for s in segments)
    assert frames == 199  # and the frame that ends the stream
