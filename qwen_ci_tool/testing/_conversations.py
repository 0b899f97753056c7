"""Abstract conversation scripts: what the model "says", independent of any wire format.

A :class:`Conversation` is a list of segments - reasoning, a code run, more reasoning, the answer -
whose deltas carry the output tokens they cost. The renderers in ``_wire.py`` turn one script
into the frames of each protocol, so every endpoint tells the same story with the same usage.

The seed conversations reproduce the vendor's published streams (``seed/code-interpreter-doc.txt``):
the frames the page shows are copied exactly, the frames it elides ("...Thinking stage...") are
filled with plausible text whose token counts land on the published cumulative usage.
"""

from __future__ import annotations

import re
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
    "generic_conversation",
    "scripted_conversation",
    "synthetic_conversation",
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


def _r(*pairs: tuple[str, int]) -> tuple[Delta, ...]:
    """Reasoning deltas whose output tokens equal their reasoning tokens."""
    return tuple(Delta(text, n, n) for text, n in pairs)


def _a(*pairs: tuple[str, int]) -> tuple[Delta, ...]:
    """Answer deltas (output tokens only)."""
    return tuple(Delta(text, n) for text, n in pairs)


def _spread(texts: list[str], total: int, *, reasoning: bool) -> tuple[Delta, ...]:
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


# --- The seed, native protocol: 54 frames, request a1959ad1-... -------------------------------
#
# Frames 1, 2, 21, 22, 23, 24, 43, 44, 53 and 54 are shown by the vendor's page; the SDK printout
# on the same page gives every delta's text around them. Token counts of the elided frames are
# chosen so the cumulative usage passes exactly through the published numbers.

_SEED_REASONING_1 = Reasoning(
    (
        Delta("The", 3, 1),  # frame 1: the pass's first 2 output tokens are not reasoning
        *_r(
            (" user is asking", 3),  # frame 2
            (" me", 1),
            (" to calculate 123", 6),
            (" raised to the power", 4),
            (" of 21. This is", 7),
            (" a very large number", 4),
            (", so working it out", 5),
            (" by hand would be", 4),
            (" slow and error-prone.", 7),
            (" The code interpreter can", 4),
            (" compute it exactly, since", 5),
            (" Python integers have arbitrary", 5),
            (" precision, so", 3),
            (" I'll write a", 4),
            (" simple Python program to calculate", 5),  # frame 16: reasoning_tokens 68
        ),
        # Frames 17-21: the model writes its tool call; output grows, nothing is shown.
        *_a(("", 6), ("", 6), ("", 6), ("", 6), ("", 7)),
    )
)

_SEED_REASONING_2 = Reasoning(
    (
        Delta("The", 3, 1),  # frame 23, input_tokens now 734
        *_r(
            (" user", 1),
            (" asked", 1),
        ),
        Delta(" for 123 to the power", 9, 7),
        *_r(
            (" of 21, and I used", 7),
            (" Python to calculate it.", 5),
            (" The code returned", 3),
            (" 772693644665", 8),
            ("49865653073473", 8),
            ("388030061522211723", 9),
            (", which is the exact value.", 7),
            (" That is a very", 4),
            (" large number with 44", 5),
            (" digits, and since Python", 5),
            (" integers are exact,", 4),
            (" there is no rounding", 4),
            (" error to worry about.", 5),
            (" The result is confirmed, and", 6),
            (" I should present this result", 5),
            (" to the user in", 4),
            (" a clear format.", 4),  # frame 43: reasoning_tokens 171
        ),
    )
)

_SEED_ANSWER_DELTAS = Answer(
    _a(
        ("123 to the power of ", 5),  # frame 44
        ("21 is:\n\n", 6),
        ("772693", 6),
        ("644665", 6),
        ("498656", 6),
        ("530734", 6),
        ("733880", 6),
        ("300615", 6),
        ("222117", 6),
        ("23", 2),  # frame 53: output_tokens 263
    )
)

SEED_NATIVE: Final = Conversation(
    name="seed-123**21",
    input_tokens=287,
    segments=(
        _SEED_REASONING_1,
        CodeSegment(code="123**21", logs=SEED_ANSWER, input_tokens_after=734),
        _SEED_REASONING_2,
        _SEED_ANSWER_DELTAS,
    ),
    request_id="a1959ad1-2637-4672-a21f-4d351371d254",
    # Not in the seed (native frames carry neither); pinned so the Responses rendering is stable.
    created=1761899651,
)

# --- The seed, OpenAI-compatible protocol: another run of the same question ------------------
#
# The page's curl example shows the first three deltas and the last three of the answer; the
# Python printout on the same page gives the rest of the text. Its final usage is the printout's
# CompletionUsage (prompt 719, completion 245, reasoning 153). The recorded answer says "43 digits"
# (the number has 44); the emulator keeps the vendor's text as recorded.

SEED_OPENAI: Final = Conversation(
    name="seed-123**21-openai",
    input_tokens=287,
    segments=(
        Reasoning(
            _spread(
                [
                    "The user",
                    " is asking",
                    " for",
                    " 123 to the power",
                    " of 21. This is",
                    " a math problem.",
                    " I need to calculate",
                    " 123^21.\n\n",
                    "I can use the",
                    " code calculator to compute",
                    " this value. I need",
                    " to call the code_interpreter",
                    " function and pass the",
                    " Python code to calculate",
                    " 123**21.\n\n",
                    "Let me construct this",
                    " function call.",
                ],
                68,
                reasoning=True,
            )
        ),
        CodeSegment(code="123**21", logs=SEED_ANSWER, input_tokens_after=719),
        Reasoning(
            _spread(
                [
                    "The user asked",
                    " for 123 to the",
                    " power of 21, and",
                    " I used Python code",
                    " to calculate the result.",
                    " The calculation shows that",
                    " 123 to the power",
                    " of 21 equals",
                    " " + SEED_ANSWER + ".",
                    " This is a very",
                    " large number. I should",
                    " provide this directly",
                ],
                85,
                reasoning=True,
            )
        ),
        Answer(
            _spread(
                [
                    "123 to the power of ",
                    "21 is:\n\n",
                    SEED_ANSWER,
                    "\n\nThis is ",
                    "a very large number, with a total",
                    " of 43 digits",
                    ".",
                ],
                92,
                reasoning=False,
            )
        ),
    ),
    request_id="5d0c6a4e-93a1-4a6e-8f0a-3c1f2b7d9e41",
    chat_id="chatcmpl-2f96ef0b-5924-4dfc-b768-4d53ec538b4e",
    created=1761899724,
)

# --- The seed's second example: two code runs, the second first seen as an empty placeholder --

_TWO_RUN_POWER = "1169008215014432917465348578887506800769541157267"
_TWO_RUN_QUOTIENT = "2.338016430028866e+47"

TWO_RUN_NATIVE: Final = Conversation(
    name="seed-123**23/5",
    input_tokens=295,
    segments=(
        Reasoning(
            _spread(
                [
                    "The user wants",
                    " to run the code",
                    " interpreter twice:\n",
                    "1. First run:",
                    " Calculate 123 to the",
                    " power of 23\n",
                    "2. Second run:",
                    " Divide the result of",
                    " the first run by 5\n\n",
                    "I need to first",
                    " call the code interpreter",
                    " to calculate 123**23,",
                    " and then use this",
                    " result to call the",
                    " code interpreter again to",
                    " divide by 5.\n\n",
                    "Let me do the",
                    " first calculation.\n",
                ],
                78,
                reasoning=True,
            )
        ),
        CodeSegment(code="123**23", logs=_TWO_RUN_POWER, input_tokens_after=532),
        Reasoning(
            _spread(
                [
                    "The first calculation",
                    " got the value of",
                    " 123 to the power",
                    " of 23: ",
                    _TWO_RUN_POWER,
                    "\n\nNow for the",
                    " second run, I need",
                    " to divide this result",
                    " by 5. I need",
                    " to use this exact",
                    " value for the division",
                ],
                112,
                reasoning=True,
            )
        ),
        CodeSegment(
            code=_TWO_RUN_POWER + " / 5",
            logs=_TWO_RUN_QUOTIENT,
            input_tokens_after=801,
            growth=(0, len(_TWO_RUN_POWER) + 4),
        ),
        Reasoning(
            _spread(
                [
                    "The user requested",
                    " to run the code",
                    " interpreter twice:\n",
                    "1. First, calculate",
                    " 123 to the power",
                    " of 23, the result",
                    " is: ",
                    _TWO_RUN_POWER,
                    "\n2. Second, divide",
                    " this result by 5,",
                    " which gives: ",
                    _TWO_RUN_QUOTIENT,
                    "\n\nNow I need",
                    " to report these two",
                    " to the user",
                ],
                131,
                reasoning=True,
            )
        ),
        Answer(
            _spread(
                [
                    "First run result:",
                    " 123 to the power",
                    " of 23 = ",
                    _TWO_RUN_POWER,
                    "\n\nSecond run result:",
                    " The above result divided",
                    " by 5 = ",
                    _TWO_RUN_QUOTIENT,
                ],
                121,
                reasoning=False,
            )
        ),
    ),
    request_id="0c5e2b7a-4f1d-4e8b-9a63-2d7f1e5c8b90",
    chat_id="chatcmpl-6a1f0d3e-2b4c-4e59-8d7a-0f3b9c2e1a57",
    created=1761900120,
)

# Scripted conversations by normalised question, then by protocol family ("native" covers the
# text-generation, multimodal and Responses endpoints, which all carry the same run).
_SCRIPTS: Final[dict[str, dict[str, Conversation]]] = {
    SEED_QUESTION: {"native": SEED_NATIVE, "openai": SEED_OPENAI},
    TWO_RUN_QUESTION: {"native": TWO_RUN_NATIVE},
}

_DIRECTIVE = re.compile(r"#fault=([\w.+-]*)")


def _normalise(question: str) -> str:
    return " ".join(question.split()).casefold()


_BY_KEY: Final = {_normalise(q): v for q, v in _SCRIPTS.items()}


def split_directive(question: str) -> tuple[str, str | None]:
    """The question without its ``#fault=<name>`` directive, and the directive's name."""
    match = _DIRECTIVE.search(question)
    if match is None:
        return question, None
    return (question[: match.start()] + question[match.end() :]).strip(), match.group(1)


def scripted_conversation(question: str, protocol: str) -> Conversation | None:
    """The recorded conversation for ``question`` on ``protocol``, or ``None`` if there is none."""
    scripts = _BY_KEY.get(_normalise(question))
    if scripts is None:
        return None
    return scripts.get(protocol, scripts["native"])


def generic_conversation(question: str) -> Conversation:
    """An honest placeholder for questions the emulator has no recording of.

    It never pretends to compute: the reasoning says there is no script, the code run prints a
    fixed word, and the answer starts with ``[emulator]``.
    """
    del question  # the reply deliberately does not depend on it
    reasoning = _spread(
        [
            "The emulator has",
            " no scripted conversation",
            " for this question, so",
            " it will not compute",
            " anything. It runs one",
            " fixed piece of code",
            " to show what a",
            " code run looks like.",
        ],
        36,
        reasoning=True,
    )
    after = _spread(
        ["The code printed", " the fixed word", " 'emulator'."],
        10,
        reasoning=True,
    )
    answer = _spread(
        [
            "[emulator] This local emulator",
            " has no recorded answer",
            " for this question. It",
            " only replays recorded conversations",
            f' (try "{SEED_QUESTION}");',
            " ask the real service",
            " for a real answer.",
        ],
        40,
        reasoning=False,
    )
    return Conversation(
        name="generic",
        input_tokens=300,
        segments=(
            Reasoning(reasoning),
            CodeSegment(code='print("emulator")', logs="emulator\n", input_tokens_after=331),
            Reasoning(after),
            Answer(answer),
        ),
    )


def _synthetic_code(chars: int, run: int) -> str:
    """Deterministic, valid-looking Python of exactly ``chars`` characters."""
    parts: list[str] = []
    size = 0
    i = 0
    while size < chars:
        line = f"value_{run}_{i} = sum(range({i}))  # step {i}\n"
        parts.append(line)
        size += len(line)
        i += 1
    return "".join(parts)[:chars]


def synthetic_conversation(n_events: int, code_runs: int = 3, code_chars: int = 2000) -> Conversation:
    """A conversation of about ``n_events`` native frames, for benchmarks.

    Half of the frames grow the code runs a few characters at a time (``tool_info`` is cumulative,
    so every frame repeats all code so far, as the real service does); the rest are reasoning
    deltas around the runs, then a short answer. Building it is linear in ``n_events``.
    """
    if n_events < 1 or code_runs < 0 or code_chars < 1:
        raise ValueError("n_events and code_chars must be positive, code_runs not negative")
    answer_frames = max(1, n_events // 10)
    code_frames = (n_events // 2) // code_runs if code_runs else 0
    code_frames = max(1, code_frames) if code_runs else 0
    reasoning_frames = max(code_runs + 1, n_events - 1 - answer_frames - code_frames * code_runs)
    per_segment, extra = divmod(reasoning_frames, code_runs + 1)

    segments: list[Segment] = []
    input_tokens = 500
    counter = 0
    for run in range(code_runs + 1):
        count = per_segment + (1 if run < extra else 0)
        deltas = tuple(Delta(f" thought {counter + k}", 3, 3) for k in range(count))
        counter += count
        segments.append(Reasoning(deltas))
        if run == code_runs:
            break
        code = _synthetic_code(code_chars, run)
        growth = tuple(max(1, -(-code_chars * (k + 1) // code_frames)) for k in range(code_frames))
        input_tokens += 50
        segments.append(CodeSegment(code=code, logs=f"run {run} ok\n", input_tokens_after=input_tokens, growth=growth))
    segments.append(Answer(tuple(Delta(f"[emulator] synthetic chunk {k}. ", 5) for k in range(answer_frames))))
    return Conversation(name=f"synthetic-{n_events}", input_tokens=500, segments=tuple(segments))
