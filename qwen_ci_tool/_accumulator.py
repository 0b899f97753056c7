"""The pure accumulator: folds stream events into a :class:`CodeInterpreterResult`.

Shared by the sync and async clients. Text arrives as many small deltas, so it is kept as lists
of parts and joined once, when a result is built: cost stays linear in the stream's length.
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

__all__ = ["Accumulator"]


class _Run:
    __slots__ = ("code", "container_id", "output")

    def __init__(self) -> None:
        self.code = ""
        self.output: str | None = None
        self.container_id: str | None = None


class Accumulator:
    """Folds events into a result. ``apply(event)`` per event, ``build(...)`` at any time."""

    __slots__ = ("_answer", "_kind", "_reasoning", "_runs", "_segment", "_steps", "model", "protocol", "request_id", "usage")

    def __init__(self, *, model: str, protocol: str) -> None:
        self.model = model
        self.protocol = protocol
        self.request_id: str | None = None
        self.usage = Usage()
        self._reasoning: list[str] = []
        self._answer: list[str] = []
        self._runs: dict[int, _Run] = {}
        # The transcript: (kind, parts) for text segments, ("code", run index) for code runs.
        self._steps: list[tuple[str, list[str] | int]] = []
        self._kind: str | None = None
        self._segment: list[str] = []

    def apply(self, event: StreamEvent) -> None:
        kind = type(event)
        if kind is ReasoningDelta:
            self._text("reasoning", event.text)  # type: ignore[union-attr]
            self._reasoning.append(event.text)  # type: ignore[union-attr]
        elif kind is AnswerDelta:
            self._text("answer", event.text)  # type: ignore[union-attr]
            self._answer.append(event.text)  # type: ignore[union-attr]
        elif kind is CodeRunUpdated:
            self._code(event)  # type: ignore[arg-type]
        elif kind is UsageUpdated:
            self.usage = event.usage  # type: ignore[union-attr]
        elif kind is StreamStarted:
            self.request_id = event.request_id  # type: ignore[union-attr]

    def _text(self, kind: str, text: str) -> None:
        if self._kind != kind:
            self._segment = []
            self._steps.append((kind, self._segment))
            self._kind = kind
        self._segment.append(text)

    def _code(self, event: CodeRunUpdated) -> None:
        run = self._runs.get(event.index)
        if run is None:
            run = self._runs[event.index] = _Run()
            self._steps.append(("code", event.index))
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
        code_runs = tuple(
            CodeRun(i, runs[i].code, runs[i].output, runs[i].container_id) for i in sorted(kept)
        )
        steps: list[Step] = []
        for kind, value in self._steps:
            if isinstance(value, int):
                if value in kept:
                    steps.append(Step("code", runs[value].code, value))
            else:
                steps.append(Step(kind, "".join(value)))  # type: ignore[arg-type]
        if status is None:
            status = "completed" if finish_reason == "stop" else "incomplete"
        return CodeInterpreterResult(
            answer="".join(self._answer),
            reasoning="".join(self._reasoning),
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
