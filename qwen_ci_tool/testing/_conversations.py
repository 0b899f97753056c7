"""Which conversation answers a question: the seed's scripts (``_seed.py``) for the seed's
questions, an honest placeholder for any other, a synthetic one of any size for benchmarks, and the
``#fault=<name>`` directive a question may carry. The script types are in ``_script.py``.
"""

from __future__ import annotations

import re
from typing import Final

from ._script import (
    SEED_QUESTION,
    TWO_RUN_QUESTION,
    Answer,
    CodeSegment,
    Conversation,
    Delta,
    Reasoning,
    Segment,
    spread,
)
from ._seed import SEED_NATIVE, SEED_OPENAI, TWO_RUN_NATIVE

__all__ = ["generic_conversation", "scripted_conversation", "split_directive", "synthetic_conversation"]

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
    reasoning = spread(
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
    after = spread(
        ["The code printed", " the fixed word", " 'emulator'."],
        10,
        reasoning=True,
    )
    answer = spread(
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
