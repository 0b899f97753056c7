"""The published output schema: a pydantic mirror of ``CodeInterpreterResult.to_dict()``.

The core stays free of pydantic; this module only describes the dict the core already builds, so
MCP clients get an ``outputSchema`` and the SDK checks every ``structuredContent`` against it.
A test keeps the field names in step with ``to_dict()``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CodeInterpreterResultModel"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
        description="What the code printed, where the protocol returns it ('responses' does); otherwise null."
    )
    container_id: str | None = Field(description="The remote sandbox id, where the protocol returns it.")


class Step(_Model):
    """One segment of the transcript in arrival order."""

    kind: Literal["reasoning", "code", "answer"]
    text: str
    code_run: int | None = Field(description="For code steps: the index of the code run.")


class Timings(_Model):
    time_to_first_event: float | None = Field(description="Seconds from sending to the first event.")
    total_time: float = Field(description="Seconds from sending to the end.")


class CodeInterpreterResultModel(_Model):
    """Everything one Qwen code-interpreter call produced."""

    model_config = ConfigDict(extra="forbid", title="CodeInterpreterResult")

    answer: str = Field(description="The final answer text.")
    reasoning: str = Field(description="The model's reasoning (thinking) text.")
    code_runs: list[CodeRun] = Field(description="Every code block the interpreter ran, in order.")
    steps: list[Step] = Field(description="Reasoning, code and answer segments as they happened.")
    usage: Usage
    request_id: str | None = Field(description="The service's request id (quote it in support requests).")
    model: str
    protocol: str = Field(description="The wire protocol used: 'dashscope', 'openai' or 'responses'.")
    finish_reason: str | None = Field(description="Why the model stopped ('stop' when it finished).")
    status: Literal["completed", "incomplete"] = Field(
        description="'completed' only when the model finished normally; 'incomplete' otherwise."
    )
    code_returned: bool = Field(description="Whether this protocol returns the executed code at all.")
    timings: Timings
