"""Abstract conversation scripts: what the model "says", independent of any wire format.

A :class:`Conversation` is a list of segments - reasoning, a code run, more reasoning, the answer -
whose deltas carry the output tokens they cost. The renderers in ``_wire.py`` turn one script
into the frames of each protocol, so every endpoint tells the same story with the same usage.
The seed's scripts are in ``_seed.py``; which script answers which question, in ``_conversations.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "SEED_ANSWER",
    "SEED_QUESTION",
    "TWO_RUN_QUESTION",
    "Answer",
    "CodeSegment",
    "Conversation",
    "Delta",
    "Reasoning",
    "Segment",
    "answer_deltas",
    "reasoning_deltas",
    "spread",
]

SEED_QUESTION: Final = "What is 123 to the power of 21?"
SEED_ANSWER: Final = "77269364466549865653073473388030061522211723"
TWO_RUN_QUESTION: Final = (
    "Run the code interpreter twice: first, calculate the value of 123 to the power of 23, "
    "and second, divide the result by 5"
)


@dataclass(frozen=True, slots=True)
class Delta:
    """One streamed piece of text and the tokens it adds to the cumulative usage.

    ``output_tokens`` may exceed ``reasoning_tokens`` for a reasoning delta: the real service also
    counts tokens it never shows (the tool-call the model writes before a code run).
    """

    text: str
    output_tokens: int
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A thinking segment: ``reasoning_content`` deltas (empty texts are real, see frames 17-21)."""

    deltas: tuple[Delta, ...]


@dataclass(frozen=True, slots=True)
class CodeSegment:
    """One sandbox run.

    ``growth`` lists the length of the code prefix shown in successive native frames: ``(len,)``
    when the code arrives whole, ``(0, len)`` for the seed's empty placeholder that is filled in
    the next frame, many steps for a benchmark's slowly growing code. ``input_tokens_after`` is the
    prompt size once the sandbox's output has been fed back to the model.
    """

    code: str
    logs: str
    input_tokens_after: int
    growth: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.growth:
            object.__setattr__(self, "growth", (len(self.code),))
        if self.growth[-1] != len(self.code):
            raise ValueError("a code run's last growth step must show the whole code")


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer segment: ``content`` deltas."""

    deltas: tuple[Delta, ...]


Segment = Reasoning | CodeSegment | Answer


@dataclass(frozen=True, slots=True)
class Conversation:
    """A whole scripted reply.

    Identifiers left ``None`` are generated per request; the seed conversations pin them so their
    streams are byte-for-byte reproducible.
    """

    name: str
    input_tokens: int
    segments: tuple[Segment, ...]
    request_id: str | None = None
    chat_id: str | None = None
    created: int | None = None

    @property
    def code_runs(self) -> tuple[CodeSegment, ...]:
        return tuple(s for s in self.segments if isinstance(s, CodeSegment))

    @property
    def answer(self) -> str:
        return "".join(d.text for s in self.segments if isinstance(s, Answer) for d in s.deltas)

    @property
    def reasoning(self) -> str:
        return "".join(d.text for s in self.segments if isinstance(s, Reasoning) for d in s.deltas)

    def with_huge_first_delta(self, size: int) -> Conversation:
        """The same conversation whose first reasoning delta is padded to ``size`` characters."""
        segments = list(self.segments)
        for i, seg in enumerate(segments):
            if isinstance(seg, Reasoning) and seg.deltas:
                first = seg.deltas[0]
                padded = first.text + " " + "9" * max(0, size - len(first.text) - 1)
                deltas = (Delta(padded, first.output_tokens, first.reasoning_tokens), *seg.deltas[1:])
                segments[i] = Reasoning(deltas)
                break
        return replace(self, segments=tuple(segments))


def reasoning_deltas(*pairs: tuple[str, int]) -> tuple[Delta, ...]:
    """Reasoning deltas whose output tokens equal their reasoning tokens."""
    return tuple(Delta(text, n, n) for text, n in pairs)


def answer_deltas(*pairs: tuple[str, int]) -> tuple[Delta, ...]:
    """Answer deltas (output tokens only)."""
    return tuple(Delta(text, n) for text, n in pairs)


def spread(texts: list[str], total: int, *, reasoning: bool) -> tuple[Delta, ...]:
    """Deltas whose token counts are proportional to their length and sum exactly to ``total``."""
    weights = [max(1, len(t)) for t in texts]
    scale = total / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    # Hand the rounding remainder to the longest deltas so the sum is exact.
    order = sorted(range(len(texts)), key=lambda i: -weights[i])
    i = 0
    while sum(counts) != total:
        j = order[i % len(order)]
        if sum(counts) < total:
            counts[j] += 1
        elif counts[j] > 1:
            counts[j] -= 1
        i += 1
    return tuple(Delta(t, n, n if reasoning else 0) for t, n in zip(texts, counts, strict=True))
