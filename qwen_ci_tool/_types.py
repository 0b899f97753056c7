"""Plain, immutable, typed data: the result and the stream events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AnswerDelta",
    "CodeInterpreterResult",
    "CodeRun",
    "CodeRunUpdated",
    "Completed",
    "ReasoningDelta",
    "Step",
    "StreamEvent",
    "StreamStarted",
    "Timings",
    "Usage",
    "UsageUpdated",
]

Status = Literal["completed", "incomplete"]
StepKind = Literal["reasoning", "code", "answer"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage for the whole call (every inner model pass included), and interpreter runs."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    code_interpreter_calls: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "code_interpreter_calls": self.code_interpreter_calls,
        }


@dataclass(frozen=True, slots=True)
class CodeRun:
    """One block of code the interpreter ran.

    ``output`` is what the code printed, where the protocol returns it (only ``responses`` does);
    otherwise ``None``. ``index`` counts from 0 in the order the runs happened.
    """

    index: int
    code: str
    output: str | None = None
    container_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "code": self.code,
            "output": self.output,
            "container_id": self.container_id,
        }


@dataclass(frozen=True, slots=True)
class Step:
    """One segment of the transcript: reasoning, a code run, or answer text, in arrival order."""

    kind: StepKind
    text: str
    code_run: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "code_run": self.code_run}


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds from sending the request to the first event, and to the end."""

    time_to_first_event: float | None = None
    total_time: float = 0.0

    def to_dict(self) -> dict[str, float | None]:
        return {"time_to_first_event": self.time_to_first_event, "total_time": self.total_time}


@dataclass(frozen=True, slots=True)
class CodeInterpreterResult:
    """Everything one code-interpreter call produced: answer, reasoning, code runs, usage."""

    answer: str
    reasoning: str
    code_runs: tuple[CodeRun, ...]
    steps: tuple[Step, ...]
    usage: Usage
    request_id: str | None
    model: str
    protocol: str
    finish_reason: str | None
    status: Status
    timings: Timings = field(default_factory=Timings)

    @property
    def code_returned(self) -> bool:
        """Whether this protocol returns the executed code at all (``openai`` does not)."""
        from ._protocols import PROTOCOLS

        known = PROTOCOLS.get(self.protocol)
        return known.returns_code if known is not None else True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` reverses it."""
        return {
            "answer": self.answer,
            "reasoning": self.reasoning,
            "code_runs": [run.to_dict() for run in self.code_runs],
            "steps": [step.to_dict() for step in self.steps],
            "usage": self.usage.to_dict(),
            "request_id": self.request_id,
            "model": self.model,
            "protocol": self.protocol,
            "finish_reason": self.finish_reason,
            "status": self.status,
            "code_returned": self.code_returned,
            "timings": self.timings.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeInterpreterResult:
        return cls(
            answer=data["answer"],
            reasoning=data.get("reasoning", ""),
            code_runs=tuple(CodeRun(**run) for run in data.get("code_runs", ())),
            steps=tuple(Step(**step) for step in data.get("steps", ())),
            usage=Usage(**data.get("usage", {})),
            request_id=data.get("request_id"),
            model=data.get("model", ""),
            protocol=data.get("protocol", ""),
            finish_reason=data.get("finish_reason"),
            status=data.get("status", "incomplete"),
            timings=Timings(**data.get("timings", {})),
        )

    def to_markdown(self, *, include_reasoning: bool = False) -> str:
        """A readable record: the answer, each code run (with its output where known), usage."""
        from ._render import result_markdown

        return result_markdown(self, include_reasoning=include_reasoning)

    def to_script(self) -> str:
        """The run as a Python script (code runs in order; reasoning, output and answer as comments),
        to re-run the model's code locally."""
        from ._render import result_script

        return result_script(self)

    def to_notebook(self) -> dict[str, Any]:
        """The run as a Jupyter notebook dict (nbformat 4; ``json.dump`` it to a ``.ipynb`` file)."""
        from ._render import result_notebook

        return result_notebook(self)

    def __str__(self) -> str:
        return self.answer


# --- stream events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamStarted:
    """The first event of a stream arrived."""

    request_id: str | None
    model: str
    protocol: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """More of the model's reasoning (before or after a code run)."""

    text: str


@dataclass(frozen=True, slots=True)
class CodeRunUpdated:
    """A code run appeared or grew. ``code`` is the full code so far, not a delta."""

    index: int
    code: str
    output: str | None = None
    container_id: str | None = None
    is_new: bool = False


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """More of the final answer."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageUpdated:
    """The cumulative usage changed."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class Completed:
    """The stream ended normally; ``result`` is final."""

    result: CodeInterpreterResult


StreamEvent = StreamStarted | ReasoningDelta | CodeRunUpdated | AnswerDelta | UsageUpdated | Completed
