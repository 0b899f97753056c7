"""Pure per-event logic shared by the LangChain tool and Runnable, sync and async alike.

No I/O here: the four loops in :mod:`integrations.langchain` only feed core events in and pass
what comes out to LangChain (custom events, the LangGraph writer, stream chunks).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables.utils import AddableDict

from qwen_ci_tool import (
    AnswerDelta,
    CodeInterpreterResult,
    CodeRunUpdated,
    Completed,
    ConfigurationError,
    QwenCIError,
    ReasoningDelta,
    StageTracker,
    StreamEvent,
    StreamStarted,
    Usage,
)
from qwen_ci_tool._accumulator import Accumulator, Closed
from qwen_ci_tool._constants import ENV_API_KEY
from qwen_ci_tool._explain import error_dict, for_agent, incomplete_for_agent
from qwen_ci_tool._knobs import Knobs
from qwen_ci_tool._result import result_markdown

__all__ = [
    "LANGCHAIN",
    "STAGE_EVENT",
    "TOOL_NAME",
    "DeltaFolder",
    "StageEvents",
    "ToolDeltas",
    "core_input",
    "error_delta",
    "error_message",
    "result_dict",
    "tool_output",
    "usage_metadata",
]

logger = logging.getLogger("integrations.langchain")

#: Name of the LangChain custom event, and ``type`` of the LangGraph ``stream_mode="custom"`` chunk.
STAGE_EVENT = "qwen_code_interpreter_stage"
#: Hints name the constructor arguments of the tool and the Runnable.
LANGCHAIN = Knobs(f"api_key= (or {ENV_API_KEY})")


# --- results ---------------------------------------------------------------------------------


def usage_metadata(usage: Usage) -> dict[str, Any]:
    """The usage in LangChain's ``UsageMetadata`` shape (what ``AIMessage.usage_metadata`` holds)."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "output_token_details": {"reasoning": usage.reasoning_tokens},
    }


def result_dict(result: CodeInterpreterResult) -> dict[str, Any]:
    """``result.to_dict()`` plus ``usage_metadata``; ``CodeInterpreterResult.from_dict`` reverses it."""
    data = result.to_dict()
    data["usage_metadata"] = usage_metadata(result.usage)
    return data


#: The tool's name, as the model knows it.
TOOL_NAME = "qwen_code_interpreter"


def tool_output(result: CodeInterpreterResult, *, include_reasoning: bool) -> tuple[str, dict[str, Any], bool]:
    """``(content, artifact, ok)``: readable text for the model, the whole record for the
    application, and whether the result is complete (an unfinished one says so in its text)."""
    if result.status != "completed":
        return incomplete_for_agent(result, include_reasoning=include_reasoning), result_dict(result), False
    return result_markdown(result, include_reasoning=include_reasoning), result_dict(result), True


def error_message(
    err: QwenCIError, secret: str | None = None, *, include_reasoning: bool = False, tool: str = TOOL_NAME
) -> str:
    """What the model sees in the error ToolMessage: what happened (naming the *tool* as the model
    knows it), whether calling again can help, what to do (naming the tool's constructor arguments)
    and what arrived - the same words as the MCP tool's."""
    text = for_agent(err, LANGCHAIN, tool=tool, include_reasoning=include_reasoning)
    # The core never puts the key in a message; belt and braces.
    return text.replace(secret, "**********") if secret else text


# --- input -----------------------------------------------------------------------------------

#: LangChain's message types whose role is named otherwise (a system message keeps its name).
_ROLES = {"human": "user", "ai": "assistant"}


def _core_message(message: BaseMessage) -> dict[str, Any]:
    content = message.content
    if not isinstance(content, str):
        blocks = [b for b in content if not (isinstance(b, str) or b.get("type") == "text")]
        if blocks:
            kinds = sorted({str(b.get("type")) for b in blocks if isinstance(b, dict)})
            raise ConfigurationError(
                f"The code interpreter reads text only; a {message.type} message holds {', '.join(kinds)} content."
            )
        content = message.text
    return {"role": _ROLES.get(message.type, message.type), "content": content}


def core_input(value: Any) -> tuple[str | None, list[dict[str, Any]] | None]:
    """``(question, messages)`` for the core from a Runnable input.

    Accepts a question string, ``{"question": ...}`` (the tool's arguments), a prompt value, one
    message, or a list of LangChain messages / ``(role, text)`` tuples / role-content dicts.
    The core validates roles and content and raises :class:`ConfigurationError` naming the fix.
    """
    if isinstance(value, str):
        return value, None
    if isinstance(value, Mapping) and set(value) == {"question"}:
        return value["question"], None
    if isinstance(value, BaseMessage):
        value = [value]
    if not isinstance(value, (PromptValue, Sequence)) or isinstance(value, bytes):
        raise ConfigurationError(
            f"Pass a question string, {{'question': ...}}, or a list of messages; got {type(value).__name__}."
        )
    return None, [_core_message(m) for m in convert_to_messages(value)]


# --- stage events ----------------------------------------------------------------------------


class StageEvents:
    """Core events in, one payload per stage change out (``None`` otherwise).

    Payload: ``stage`` ("connected", "thinking", "running code #N", "answering", "done"), ``step``
    (1, 2, 3, ...), ``request_id``; ``code_run`` (0-based) on code stages; ``status`` on "done".
    """

    __slots__ = ("_request_id", "_tracker")

    def __init__(self) -> None:
        self._tracker = StageTracker()
        self._request_id: str | None = None

    def feed(self, event: StreamEvent) -> dict[str, Any] | None:
        if isinstance(event, StreamStarted):
            self._request_id = event.request_id
        stage = self._tracker.update(event)
        if stage is None:
            return None
        payload: dict[str, Any] = {"stage": stage, "step": self._tracker.count, "request_id": self._request_id}
        if isinstance(event, CodeRunUpdated):
            payload["code_run"] = event.index
        elif isinstance(event, Completed):
            payload["request_id"] = event.result.request_id
            payload["status"] = event.result.status
        return payload


# --- LangGraph tool-output deltas ------------------------------------------------------------


class ToolDeltas:
    """Core events in, the stage payload and the ``tool-output-delta`` payloads out.

    What LangGraph's ``stream_mode="tools"`` carries between ``tool-started`` and ``tool-finished``:
    small JSON-able dicts a UI can render knowing only their ``type``:

    - ``{"type": "stage", "stage": "thinking", "step": 2, "request_id": ...}``: the stage changed
      (the payload of the custom stage event, plus ``type``; ``code_run`` on code stages, ``status``
      on ``"done"``);
    - ``{"type": "reasoning", "text": ...}`` and ``{"type": "answer", "text": ...}``: more text,
      to append;
    - ``{"type": "code", "index": 0, "code": ..., "output": ...}``: a code run as far as it got
      (``output`` is ``None`` where the protocol does not return it); a later ``code`` delta with the
      same ``index`` replaces it;
    - ``{"type": "error", "error": "RateLimitError", "message": ..., "retryable": true}``: the call
      failed (last delta; see :func:`error_delta`).
    """

    __slots__ = ("_acc", "_runs", "stages")

    def __init__(self) -> None:
        self.stages = StageEvents()
        self._acc = Accumulator(model="", protocol="")  # reasoning deltas add up to the result's
        self._runs: dict[int, tuple[str, str | None]] = {}  # index -> (code, output) last sent

    def feed(self, event: StreamEvent) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """``(stage payload or None, deltas)`` for one core event."""
        stage = self.stages.feed(event)
        deltas: list[dict[str, Any]] = [] if stage is None else [{"type": "stage", **stage}]
        self._acc.apply(event)
        reasoning = self._acc.reasoning_text(event)
        if isinstance(event, ReasoningDelta):
            if reasoning:
                deltas.append({"type": "reasoning", "text": reasoning})
        elif isinstance(event, AnswerDelta):
            if event.text:
                deltas.append({"type": "answer", "text": event.text})
        elif isinstance(event, CodeRunUpdated):
            seen = (event.code, event.output)
            if (event.code or event.output is not None) and self._runs.get(event.index) != seen:
                self._runs[event.index] = seen
                deltas.append({"type": "code", "index": event.index, "code": event.code, "output": event.output})
        return stage, deltas


def error_delta(err: QwenCIError, message: str) -> dict[str, Any]:
    """The last ``tool-output-delta`` of a failed call: the error class, what the model is told, and
    whether calling again may succeed."""
    data = error_dict(err, LANGCHAIN)  # the one error dict, as the CLI's
    return {"type": "error", "error": data["type"], "message": message, "retryable": data["retryable"]}


# --- stream deltas ---------------------------------------------------------------------------


class DeltaFolder:
    """Core events in, :class:`AddableDict` deltas out; the deltas add up to :func:`result_dict`.

    Text (``reasoning``, ``answer``) streams as it arrives; a code run (``code_runs``) and a
    transcript segment (``steps``) stream once the core's accumulator closes them (the next one
    began; the last ones with the last delta), as they will stand in the result; reasoning pieces
    carry the core's separator between segments (``Accumulator.reasoning_text``); everything else
    (usage, status, timings, ...) comes with the last delta. Each key keeps one type, and is sent either once or as
    pieces that ``+`` joins, so LCEL folds the stream into exactly what ``invoke`` returns.
    """

    __slots__ = ("_acc", "_sent", "_texts")

    def __init__(self) -> None:
        self._acc = Accumulator(model="", protocol="")  # only what it closes is read
        self._sent: dict[str, Any] = {}  # key -> value sent (lists: the items sent so far)
        self._texts: dict[str, list[str]] = {}  # text keys -> the pieces sent

    def feed(self, event: StreamEvent) -> AddableDict | None:
        delta = AddableDict()
        self._closed(self._acc.apply(event), delta)  # the last run and step come with the remainder
        reasoning = self._acc.reasoning_text(event)
        if isinstance(event, (ReasoningDelta, AnswerDelta)):
            text = reasoning if isinstance(event, ReasoningDelta) else event.text
            if text:
                key = "reasoning" if isinstance(event, ReasoningDelta) else "answer"
                delta[key] = text
                self._texts.setdefault(key, []).append(text)
        elif isinstance(event, StreamStarted):
            for key in ("request_id", "model", "protocol"):
                self._once(delta, key, getattr(event, key))
        elif isinstance(event, Completed):
            self._finish(result_dict(event.result), delta)
        return delta or None

    def _closed(self, closed: Closed | None, delta: AddableDict) -> None:
        if closed is None:
            return
        if closed.run is not None:
            self._extend(delta, "code_runs", closed.run.to_dict())
        self._extend(delta, "steps", closed.step.to_dict())

    def _extend(self, delta: AddableDict, key: str, item: dict[str, Any]) -> None:
        delta.setdefault(key, []).append(item)
        self._sent.setdefault(key, []).append(item)

    def _once(self, delta: AddableDict, key: str, value: Any) -> None:
        if key not in self._sent:
            delta[key] = self._sent[key] = value

    def _finish(self, final: dict[str, Any], delta: AddableDict) -> None:
        """The remainder: what ``final`` holds beyond the sum sent so far."""
        for key, value in final.items():
            if key in self._texts:
                sent: Any = "".join(self._texts[key])
            elif key in self._sent:
                sent = self._sent[key]
            else:
                delta[key] = value
                continue
            if sent is None:  # AddableDict lets a later value replace None
                if value is not None:
                    delta[key] = value
            elif isinstance(sent, (str, list)) and value[: len(sent)] == sent:
                if len(value) > len(sent):
                    delta[key] = value[len(sent) :]
            elif sent != value:
                # Cannot happen with the core's decoders (a run never changes once the stream moved
                # on); if it ever does, say so rather than stream a sum that disagrees silently.
                logger.warning("streamed %r differs from the final result; invoke() has the final value", key)
