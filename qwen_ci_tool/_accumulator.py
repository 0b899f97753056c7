"""The pure accumulator: folds stream events into a :class:`CodeInterpreterResult`.

Shared by the sync and async clients. The reasoning's segments (around code runs) are kept apart
by a blank line; the answer is its segments joined as sent. Text arrives as many small deltas, so it is kept as lists
of parts and joined when a result is built: cost stays linear in the stream's length. Every
:data:`_BLOCK` deltas of a segment are joined into one string, so a long stream holds about the
text itself rather than one small string object (about 50 bytes of overhead) per delta.
"""

from __future__ import annotations

from ._types import (
    AnswerDelta,
    CodeInterpreterResult,
    CodeRun,
    CodeRunUpdated,
    ReasoningDelta,
    Status,
    Step,
    StreamEvent,
    StreamStarted,
    Timings,
    Usage,
    UsageUpdated,
)

__all__ = ["Accumulator", "ReasoningApart", "segment_separator"]

#: Deltas of one segment kept apart before they are joined into a block.
_BLOCK = 256


def segment_separator(before: str) -> str:
    """What goes between reasoning text ending in *before* and the next reasoning segment: a blank
    line (each segment, before, between and after code runs, ends a thought without a break; glued
    they would run sentences together: "...division.Now divide..."), less the line breaks it has."""
    return "" if before.endswith("\n\n") else "\n" if before.endswith("\n") else "\n\n"


def _apart(segments: list[str]) -> str:
    """The non-empty reasoning segments, each after :func:`segment_separator` of the text so far."""
    parts: list[str] = []
    tail = ""
    for text in segments:
        if text:
            if parts:
                parts.append(segment_separator(tail))
            parts.append(text)
            tail = (tail + parts[-2] + text if len(parts) > 1 else text)[-2:]
    return "".join(parts)


class ReasoningApart:
    """What each event adds to ``result.reasoning`` as it streams: a reasoning delta's text, with
    :func:`segment_separator` before the first text of a new segment. Segments change where the
    accumulator's do (an answer delta, or a code run that first appears, in between), so streamed
    reasoning pieces add up to the result's. For surfaces that stream deltas (the LangChain tool)."""

    __slots__ = ("_apart", "_kind", "_runs", "_tail")

    def __init__(self) -> None:
        self._kind = ""
        self._runs: set[int] = set()
        self._tail = ""  # the last characters of the reasoning so far
        self._apart = False

    def feed(self, event: StreamEvent) -> str:
        """The text *event* adds to the reasoning ('' for anything else)."""
        kind = type(event)
        if kind is ReasoningDelta:
            if self._kind != "reasoning":
                self._kind = "reasoning"
                self._apart = bool(self._tail)
            text: str = event.text  # type: ignore[union-attr]
            if not text:
                return ""
            if self._apart:
                text = segment_separator(self._tail) + text
                self._apart = False
            self._tail = (self._tail + text)[-2:]
            return text
        if kind is AnswerDelta:
            self._kind = "answer"
        elif kind is CodeRunUpdated and event.index not in self._runs:  # type: ignore[union-attr]
            self._runs.add(event.index)  # type: ignore[union-attr]
            self._kind = "code"
        return ""


class _Run:
    __slots__ = ("code", "container_id", "output")

    def __init__(self) -> None:
        self.code = ""
        self.output: str | None = None
        self.container_id: str | None = None


class _Segment:
    """The text of one reasoning or answer segment: joined blocks, then the latest deltas."""

    __slots__ = ("blocks", "kind", "parts")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.blocks: list[str] = []
        self.parts: list[str] = []

    def text(self) -> str:
        if self.blocks:
            return "".join([*self.blocks, *self.parts])
        return "".join(self.parts)


class Accumulator:
    """Folds events into a result. ``apply(event)`` per event, ``build(...)`` at any time."""

    __slots__ = ("_kind", "_runs", "_segment", "_steps", "model", "protocol", "request_id", "usage")

    def __init__(self, *, model: str, protocol: str) -> None:
        self.model = model
        self.protocol = protocol
        self.request_id: str | None = None
        self.usage = Usage()
        self._runs: dict[int, _Run] = {}
        # The transcript: a _Segment per text segment, the run index for a code run. The whole
        # reasoning (or answer) is its segments' texts in order.
        self._steps: list[_Segment | int] = []
        self._kind: str | None = None
        self._segment = _Segment("")

    def apply(self, event: StreamEvent) -> None:
        kind = type(event)
        if kind is ReasoningDelta:
            self._text("reasoning", event.text)  # type: ignore[union-attr]
        elif kind is AnswerDelta:
            self._text("answer", event.text)  # type: ignore[union-attr]
        elif kind is CodeRunUpdated:
            self._code(event)  # type: ignore[arg-type]
        elif kind is UsageUpdated:
            self.usage = event.usage  # type: ignore[union-attr]
        elif kind is StreamStarted:
            self.request_id = event.request_id  # type: ignore[union-attr]

    def _text(self, kind: str, text: str) -> None:
        segment = self._segment
        if self._kind != kind:
            segment = self._segment = _Segment(kind)
            self._steps.append(segment)
            self._kind = kind
        parts = segment.parts
        parts.append(text)
        if len(parts) >= _BLOCK:
            try:
                segment.blocks.append("".join(parts))
            except TypeError:
                # A delta that is not text: keep the parts as they are, so that build() fails on
                # it exactly when (and with the same exception type as) it always did.
                segment.blocks.extend(parts)
            segment.parts = []

    def _code(self, event: CodeRunUpdated) -> None:
        run = self._runs.get(event.index)
        if run is None:
            run = self._runs[event.index] = _Run()
            self._steps.append(event.index)
            self._kind = "code"
        run.code = event.code
        if event.output is not None:
            run.output = event.output
        if event.container_id is not None:
            run.container_id = event.container_id

    def build(
        self,
        *,
        finish_reason: str | None,
        timings: Timings,
        status: Status | None = None,
    ) -> CodeInterpreterResult:
        """The result so far. ``status`` defaults to completed only when finish_reason is "stop"."""
        runs = self._runs
        kept = {i for i, run in runs.items() if run.code or run.output}
        code_runs = tuple(CodeRun(i, runs[i].code, runs[i].output, runs[i].container_id) for i in sorted(kept))
        steps: list[Step] = []
        answer: list[str] = []
        reasoning: list[str] = []
        for value in self._steps:
            if isinstance(value, int):
                if value in kept:
                    steps.append(Step("code", runs[value].code, value))
            else:
                text = value.text()
                (answer if value.kind == "answer" else reasoning).append(text)
                steps.append(Step(value.kind, text))  # type: ignore[arg-type]
        if status is None:
            status = "completed" if finish_reason == "stop" else "incomplete"
        return CodeInterpreterResult(
            answer="".join(answer),
            reasoning=_apart(reasoning),
            code_runs=code_runs,
            steps=tuple(steps),
            usage=self.usage,
            request_id=self.request_id,
            model=self.model,
            protocol=self.protocol,
            finish_reason=finish_reason,
            status=status,
            timings=timings,
        )
