"""The code runs of a result as langchain-core's standard content blocks, for the tool's artifact."""

from __future__ import annotations

from typing import Any

from langchain_core.messages.content import ServerToolCall, ServerToolResult

from qwen_ci_tool import CodeInterpreterResult

__all__ = ["CODE_INTERPRETER", "code_run_blocks", "with_blocks"]

#: The standard name of a hosted code interpreter in ``server_tool_call`` blocks (the OpenAI,
#: Anthropic and Gemini integrations use it too).
CODE_INTERPRETER = "code_interpreter"
_TRACEBACK = "Traceback (most recent call last):"


def code_run_blocks(result: CodeInterpreterResult) -> list[ServerToolCall | ServerToolResult]:
    """Each code run as a standard ``server_tool_call`` block and its ``server_tool_result``.

    The result's status is ``"error"`` when the output shows a Python traceback, or for the last
    run of a call that broke before any answer (the run may not have finished); ``output`` is there
    when the protocol returns it (the Responses API does).
    """
    blocks: list[ServerToolCall | ServerToolResult] = []
    unfinished = result.status != "completed" and not result.answer
    for run in result.code_runs:
        call_id = f"{result.request_id}-code-{run.index}" if result.request_id else f"code-{run.index}"
        blocks.append(
            ServerToolCall(type="server_tool_call", id=call_id, name=CODE_INTERPRETER, args={"code": run.code})
        )
        failed = _TRACEBACK in run.output if run.output is not None else unfinished and run is result.code_runs[-1]
        block = ServerToolResult(
            type="server_tool_result", tool_call_id=call_id, status="error" if failed else "success"
        )
        if run.output is not None:
            block["output"] = run.output
        blocks.append(block)
    return blocks


def with_blocks(result: CodeInterpreterResult, artifact: dict[str, Any]) -> dict[str, Any]:
    """*artifact* (the result dict) with the code runs as standard blocks under ``content_blocks``."""
    artifact["content_blocks"] = code_run_blocks(result)
    return artifact
