"""The published output schema: a pydantic mirror of the record ``_fit.compact_record`` builds from
``CodeInterpreterResult.to_dict()`` (steps point into the fields instead of repeating them).

The core stays free of pydantic; this module only describes the dict the core already builds, so
MCP clients get an ``outputSchema`` and the SDK checks every ``structuredContent`` against it.
A test keeps the field names in step with ``to_dict()``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from qwen_ci_tool._protocols import PROTOCOLS, returning

__all__ = ["CodeInterpreterResultModel", "RunOutputModel", "RunPendingModel"]


_OUTPUT_PROTOCOLS = " and ".join(map(repr, returning(output=True)))


def _nullable_as_type_list(schema: dict[str, Any]) -> None:
    """Publish ``T | None`` fields as ``"type": [T, "null"]`` instead of pydantic's ``anyOf``.

    The same schema, but the client's ``jsonschema`` checks every ``structuredContent`` against it on
    every call, and an ``anyOf`` per nullable field cost it more than the rest of the record together.
    """
    for prop in schema["properties"].values():  # every model here has fields
        alternatives = prop.get("anyOf")
        if not (isinstance(alternatives, list) and len(alternatives) == 2 and {"type": "null"} in alternatives):
            continue
        other = alternatives[0] if alternatives[1] == {"type": "null"} else alternatives[1]
        if set(other) == {"type"} and isinstance(other["type"], str):
            del prop["anyOf"]
            prop["type"] = [other["type"], "null"]


class _Model(BaseModel):
    # Subclasses setting model_config keep these: pydantic merges it with the parent's.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_nullable_as_type_list)


class Usage(_Model):
    """Tokens for the whole call (every inner model pass included) and interpreter runs."""

    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    total_tokens: int
    code_interpreter_calls: int = Field(description="How many times the interpreter ran code.")


class CodeRun(_Model):
    """One block of Python the interpreter ran, in order."""

    index: int = Field(description="0-based position among the runs.")
    code: str = Field(description="The Python code that ran.")
    output: str | None = Field(
        description=f"What the code printed, where the protocol returns it ({_OUTPUT_PROTOCOLS} does); otherwise null."
    )
    container_id: str | None = Field(description="The remote sandbox id, where the protocol returns it.")


class Step(_Model):
    """One segment of the transcript in arrival order, pointing into the fields (not repeating them)."""

    kind: Literal["reasoning", "code", "answer"]
    chars: int | None = Field(
        description="For reasoning and answer steps: this step is the next `chars` characters of the "
        "`reasoning` or `answer` field (lengths of the uncut text; in `reasoning`, after the blank line "
        "that separates a segment from the reasoning before it). Null for code steps."
    )
    code_run: int | None = Field(description="For code steps: the index of the code run.")


class Timings(_Model):
    time_to_first_event: float | None = Field(description="Seconds from sending to the first event.")
    total_time: float = Field(description="Seconds from sending to the end.")


class CodeInterpreterResultModel(_Model):
    """Everything one Qwen code-interpreter call produced."""

    model_config = ConfigDict(title="CodeInterpreterResult")

    answer: str = Field(description="The final answer text.")
    reasoning: str = Field(description="The model's reasoning (thinking) text.")
    code_runs: list[CodeRun] = Field(description="Every code block the interpreter ran, in order.")
    steps: list[Step] = Field(description="Reasoning, code and answer segments as they happened.")
    usage: Usage
    request_id: str | None = Field(description="The service's request id (quote it in support requests).")
    model: str
    protocol: str = Field(description=f"The wire protocol used: {', '.join(map(repr, PROTOCOLS))}.")
    finish_reason: str | None = Field(description="Why the model stopped ('stop' when it finished).")
    status: Literal["completed", "incomplete"] = Field(
        description="'completed' only when the model finished normally; 'incomplete' otherwise."
    )
    code_returned: bool = Field(description="Whether this protocol returns the executed code at all.")
    timings: Timings
    truncated: list[str] = Field(
        description="What was cut to fit the server's --max-output-chars (and how much of it was kept); "
        "empty when the record is whole."
    )


class RunPendingModel(_Model):
    """A run still going when the tool stopped waiting: not an error, and not the answer yet."""

    model_config = ConfigDict(title="RunPending")

    status: Literal["running"] = Field(description="Always 'running': the result is not ready yet.")
    run_id: str = Field(description="The run's handle: pass it to qwen_code_interpreter_result.")
    stage: str = Field(description="What the run was doing when the tool stopped waiting.")
    elapsed_seconds: float = Field(description="Seconds since the run started.")
    result_tool: Literal["qwen_code_interpreter_result"] = Field(
        description="The tool to call with run_id to get the result."
    )


class RunOutputModel(RootModel[CodeInterpreterResultModel | RunPendingModel]):
    """Either the finished result, or (``status: "running"``) a handle to ask for it again.

    Published with ``type: object`` at the top, as MCP clients expect of an ``outputSchema``.
    """

    model_config = ConfigDict(title="CodeInterpreterOutput", json_schema_extra={"type": "object"})
