"""Stages a person sees ("thinking", "running code #2", "answering"), derived in one place.

The CLI's status line, MCP progress messages and LangChain custom events all use this.
"""

from __future__ import annotations

from typing import TypeGuard

from ._result import Completed, StreamEvent
from ._types import AnswerDelta, CodeRunUpdated, ReasoningDelta, StreamStarted

__all__ = ["EDGE_STAGES", "StageTracker", "is_work_stage", "stage_of"]

#: The stages that frame a call rather than show its work: a status line or a progress message skips them.
EDGE_STAGES = frozenset({"connected", "done"})


_STAGES: dict[type, str] = {
    ReasoningDelta: "thinking",
    AnswerDelta: "answering",
    StreamStarted: "connected",
    Completed: "done",
}


def stage_of(event: StreamEvent) -> str | None:
    """The stage an event belongs to, or None for events that do not change the stage (usage)."""
    if type(event) is CodeRunUpdated:
        return f"running code #{event.index + 1}"
    return _STAGES.get(type(event))


def is_work_stage(stage: str | None) -> TypeGuard[str]:
    """Whether *stage* is one a person watches (thinking, running code, answering): the one filter
    the CLI's status line and the MCP server's progress messages share."""
    return stage is not None and stage not in EDGE_STAGES


class StageTracker:
    """Feed every event; get the new stage name when it changes, else None.

    ``count`` numbers the stage changes (1, 2, 3, ...): a strictly increasing progress value.
    """

    __slots__ = ("count", "stage")

    def __init__(self) -> None:
        self.stage: str | None = None
        self.count = 0

    def update(self, event: StreamEvent) -> str | None:
        stage = stage_of(event)
        if stage is None or stage == self.stage:
            return None
        self.stage = stage
        self.count += 1
        return stage
