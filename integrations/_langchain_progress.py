"""Where a LangChain tool call reports what happens, and how a failed call keeps its artifact.

The stages go to LangChain callbacks (custom events) and LangGraph's custom stream; the deltas to
LangGraph's ``tools`` stream through the injected ``ToolRuntime``. A failed call's partial result
travels from ``_run``/``_arun`` to ``run``/``arun`` so the error ``ToolMessage`` carries it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.messages import ToolMessage
from langchain_core.tools import ToolException

from qwen_ci_tool import QwenCIError, StreamEvent

from ._langchain_fold import STAGE_EVENT, ToolDeltas, error_delta

__all__ = ["Progress", "adispatch", "dispatch", "fail", "failed_artifact", "stream_writer", "with_artifact"]


def stream_writer() -> Callable[[Any], None] | None:
    """LangGraph's writer for ``stream_mode="custom"`` inside a graph; ``None`` elsewhere."""
    try:
        from langgraph.config import get_stream_writer
    except ImportError:
        return None
    try:
        return get_stream_writer()
    except (RuntimeError, KeyError):  # outside a graph / outside any runnable context
        return None


class Progress:
    """Where one tool call reports what happens: LangGraph's custom stream and, through the
    injected ``ToolRuntime``, its ``tools`` stream. Callback events are sent by the caller (sync or
    async), with the stage payload :meth:`feed` returns."""

    __slots__ = ("_deltas", "_emit", "_writer")

    def __init__(self, runtime: Any) -> None:
        self._deltas = ToolDeltas()
        self._writer = stream_writer()
        # ToolRuntime.emit_output_delta (langgraph >= 1.2) is a no-op unless the graph is streamed
        # with "tools"; there is no runtime when the tool is invoked outside a graph.
        self._emit: Callable[[Any], None] | None = getattr(runtime, "emit_output_delta", None)

    def feed(self, event: StreamEvent) -> dict[str, Any] | None:
        if self._emit is None:  # no graph around the tool: only the stages are needed
            stage = self._deltas.stages.feed(event)
        else:
            stage, deltas = self._deltas.feed(event)
            for delta in deltas:
                self._emit(delta)
        if stage is not None and self._writer is not None:
            self._writer({"type": STAGE_EVENT, **stage})
        return stage

    def failed(self, err: QwenCIError, message: str) -> None:
        if self._emit is not None:
            self._emit(error_delta(err, message))


def dispatch(payload: dict[str, Any]) -> None:
    with contextlib.suppress(RuntimeError):  # not inside a LangChain run (e.g. _run called directly)
        dispatch_custom_event(STAGE_EVENT, payload)


async def adispatch(payload: dict[str, Any]) -> None:
    with contextlib.suppress(RuntimeError):
        await adispatch_custom_event(STAGE_EVENT, payload)


#: The artifact of a call that failed, handed from ``_run``/``_arun`` to ``run``/``arun``:
#: LangChain builds an error ToolMessage without one, and nothing that arrived may be lost.
_FAILED_ARTIFACT: ContextVar[list[dict[str, Any]] | None] = ContextVar("qwen_ci_failed_artifact", default=None)


@contextlib.contextmanager
def failed_artifact() -> Iterator[list[dict[str, Any]]]:
    box: list[dict[str, Any]] = []
    token = _FAILED_ARTIFACT.set(box)
    try:
        yield box
    finally:
        _FAILED_ARTIFACT.reset(token)


def with_artifact(output: Any, box: list[dict[str, Any]]) -> Any:
    # LangChain builds an error ToolMessage without an artifact: the partial result becomes it.
    if box and isinstance(output, ToolMessage) and output.status == "error":
        output.artifact = box[-1]
    return output


def fail(text: str, artifact: dict[str, Any] | None) -> ToolException:
    """The ToolException for a failed call, its artifact kept for the error ToolMessage."""
    box = _FAILED_ARTIFACT.get()
    if box is not None and artifact is not None:
        box.append(artifact)
    return ToolException(text)
