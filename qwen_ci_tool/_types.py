"""Plain, immutable, typed data: the parts of a result, the stream events, and a parsed SSE event.

The bottom of the package: it imports nothing from it. The result itself, which also knows the
protocol registry and its renderings, is :mod:`._result`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = [
    "AnswerDelta",
    "CodeRun",
    "CodeRunUpdated",
    "DecodedEvent",
    "ReasoningDelta",
    "SSEEvent",
    "Step",
    "StreamStarted",
    "Timings",
    "Usage",
    "UsageUpdated",
]

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
        return asdict(self)


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
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Step:
    """One segment of the transcript: reasoning, a code run, or answer text, in arrival order."""

    kind: StepKind
    text: str
    code_run: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds from sending the request to the first event, and to the end."""

    time_to_first_event: float | None = None
    total_time: float = 0.0

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


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


#: What a wire protocol's decoder yields: every stream event but :class:`~qwen_ci_tool._result.Completed`.
DecodedEvent = StreamStarted | ReasoningDelta | CodeRunUpdated | AnswerDelta | UsageUpdated


# --- the wire -------------------------------------------------------------------------------


class SSEEvent:
    """One dispatched event. ``data`` stays bytes; ``status`` is the in-band HTTP status, if any."""

    __slots__ = ("_id", "data", "event", "status")

    def __init__(self, event: str, data: bytes, id: str | bytes | None, status: int | None) -> None:
        self.event = event
        self.data = data
        self._id = id
        self.status = status

    @property
    def id(self) -> str | None:
        """The last event id. The parser hands over raw bytes, decoded only if someone asks: no
        decoder reads it, and decoding a fresh ``id:N`` per frame is measurable per-event cost."""
        value = self._id
        if value.__class__ is bytes:
            value = self._id = value.decode("utf-8", "replace")
        return value  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data[:80]!r}, id={self.id!r}, status={self.status!r})"
