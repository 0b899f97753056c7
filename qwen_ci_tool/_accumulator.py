"""The pure accumulator: folds stream events into a :class:`CodeInterpreterResult`.

Shared by the sync and async clients. The reasoning's segments (around code runs) are kept apart
by a blank line; the answer is its segments joined as sent. Text arrives as many small deltas, so it is kept as lists
of parts and joined when a result is built: cost stays linear in the stream's length. Every
:data:`_BLOCK` deltas of a segment are joined into one string, so a long stream holds about the
text itself rather than one small string object (about 50 bytes of overhead) per delta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._result import CodeInterpreterResult, StreamEvent, returns_code
from ._types import AnswerDelta, CodeRun, CodeRunUpdated, ReasoningDelta, Step, StreamStarted, Usage, UsageUpdated

if TYPE_CHECKING:  # annotations only
    from ._result import ResultStatus
    from ._types import Timings

__all__ = ["Accumulator", "Closed", "segment_separator"]

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


class _Run:
    __slots__ = ("code", "container_id", "output")

    def __init__(self) -> None:
        self.code = ""
        self.output: str | None = None
        self.container_id: str | None = None

    def kept(self, index: int) -> CodeRun | None:
        """The run as the result holds it; ``None`` for a run with neither code nor output (dropped)."""
        return CodeRun(index, self.code, self.output, self.container_id) if self.code or self.output else None


class _Segment:
    """The text of one reasoning or answer segment: joined blocks, then the latest deltas."""

    __slots__ = ("blocks", "kind", "parts")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.blocks: list[str] = []
        self.parts: list[str] = []

    def text(self) -> str:
        return "".join([*self.blocks, *self.parts])


class Closed:
    """A transcript step that just closed (the next one began, or the stream ended), as it will
    stand in the result. ``run`` is the code run of a code step. A text step's text is joined only
    when asked for: the clients' accumulator never asks."""

    __slots__ = ("_segment", "run")

    def __init__(self, segment: _Segment | None, run: CodeRun | None = None) -> None:
        self._segment = segment
        self.run = run

    @property
    def step(self) -> Step:
        if self.run is not None:
            return Step("code", self.run.code, self.run.index)
        assert self._segment is not None
        return Step(self._segment.kind, self._segment.text())  # type: ignore[arg-type]


class Accumulator:
    """Folds events into a result. ``apply(event)`` per event, ``build(...)`` at any time.

    ``apply`` also says what the event closed: a step (reasoning, answer, a code run) closes when
    the next one begins, and :meth:`close` closes the last. Every face that shows a step once it is
    whole (the CLI's code runs, the LangChain Runnable's stream) emits from that.
    """

    __slots__ = (
        "_kind",
        "_open",
        "_reasoning_tail",
        "_runs",
        "_segment",
        "_spoken",
        "_steps",
        "code_returned",
        "model",
        "protocol",
        "request_id",
        "usage",
    )

    def __init__(self, *, model: str, protocol: str) -> None:
        self.model = model
        self.protocol = protocol
        self.code_returned = returns_code(protocol)
        self.request_id: str | None = None
        self.usage = Usage()
        self._runs: dict[int, _Run] = {}
        # The transcript: a _Segment per text segment, the run index for a code run. The whole
        # reasoning (or answer) is its segments' texts in order.
        self._steps: list[_Segment | int] = []
        self._kind: str | None = None
        self._segment = _Segment("")
        self._open = False  # the last step is still open
        # For reasoning_text() only (faces that stream deltas); the clients never call it.
        self._reasoning_tail = ""  # the last characters of result.reasoning so far
        self._spoken: _Segment | None = None  # the reasoning segment that has had text

    def apply(self, event: StreamEvent) -> Closed | None:
        """Fold *event* in; the step it closed, if any."""
        kind = type(event)
        if kind is ReasoningDelta:
            return self._text("reasoning", event.text)  # type: ignore[union-attr]
        if kind is AnswerDelta:
            return self._text("answer", event.text)  # type: ignore[union-attr]
        if kind is CodeRunUpdated:
            return self._code(event)  # type: ignore[arg-type]
        if kind is UsageUpdated:
            self.usage = event.usage  # type: ignore[union-attr]
        elif kind is StreamStarted:
            self.request_id = event.request_id  # type: ignore[union-attr]
        return None

    def reasoning_text(self, event: StreamEvent) -> str:
        """What *event*, just applied, adds to ``result.reasoning`` ('' for anything else): a
        reasoning delta's text, after :func:`segment_separator` when it is the first text of a new
        segment. Streamed pieces then add up to the result's reasoning, segments apart as it has them.
        """
        if type(event) is not ReasoningDelta or not event.text:
            return ""
        text: str = event.text
        if self._segment is not self._spoken:  # this segment's first text
            self._spoken = self._segment
            if self._reasoning_tail:
                text = segment_separator(self._reasoning_tail) + text
        self._reasoning_tail = (self._reasoning_tail + text)[-2:]
        return text

    def close(self) -> Closed | None:
        """The stream ended: the last step, if still open (a run with neither code nor output is
        dropped, as in the result)."""
        if not self._open:
            return None
        self._open = False
        last = self._steps[-1]
        if isinstance(last, int):
            run = self._runs[last].kept(last)
            return None if run is None else Closed(None, run)
        return Closed(last)

    def _text(self, kind: str, text: str) -> Closed | None:
        segment = self._segment
        closed = None
        if self._kind != kind:
            closed = self.close()
            self._open = True
            segment = self._segment = _Segment(kind)
            self._steps.append(segment)
            self._kind = kind
        parts = segment.parts
        parts.append(text)
        if len(parts) >= _BLOCK:
            segment.blocks.append("".join(parts))
            segment.parts = []
        return closed

    def _code(self, event: CodeRunUpdated) -> Closed | None:
        run = self._runs.get(event.index)
        closed = None
        if run is None:
            closed = self.close()
            self._open = True
            run = self._runs[event.index] = _Run()
            self._steps.append(event.index)
            self._kind = "code"
        run.code = event.code
        if event.output is not None:
            run.output = event.output
        if event.container_id is not None:
            run.container_id = event.container_id
        return closed

    def build(
        self,
        *,
        finish_reason: str | None,
        timings: Timings,
        status: ResultStatus | None = None,
    ) -> CodeInterpreterResult:
        """The result so far. ``status`` defaults to completed only when finish_reason is "stop"."""
        kept = {i: run for i in sorted(self._runs) if (run := self._runs[i].kept(i)) is not None}
        steps: list[Step] = []
        answer: list[str] = []
        reasoning: list[str] = []
        for value in self._steps:
            if isinstance(value, int):
                if value in kept:
                    steps.append(Step("code", kept[value].code, value))
            else:
                text = value.text()
                (answer if value.kind == "answer" else reasoning).append(text)
                steps.append(Step(value.kind, text))  # type: ignore[arg-type]
        if status is None:
            status = "completed" if finish_reason == "stop" else "incomplete"
        return CodeInterpreterResult(
            answer="".join(answer),
            reasoning=_apart(reasoning),
            code_runs=tuple(kept.values()),
            steps=tuple(steps),
            usage=self.usage,
            request_id=self.request_id,
            model=self.model,
            protocol=self.protocol,
            finish_reason=finish_reason,
            status=status,
            timings=timings,
            code_returned=self.code_returned,
        )
