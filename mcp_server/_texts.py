"""Every text the tools show to a model or a client: names, descriptions, and each answer that is not a result.

The results themselves (answers, failures, cancellations with their partials) are written by the
core's renderers (``qwen_ci_tool._result`` / ``_explain``) and packed by ``runs.results``; their
hints name the server's configuration (:data:`MCP`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mcp.types import ToolAnnotations

from qwen_ci_tool import _constants as C
from qwen_ci_tool._arguments import QUESTION_ALLOWED, invalid_arguments
from qwen_ci_tool._errors import missing_key_error
from qwen_ci_tool._explain import for_agent, retry_advice
from qwen_ci_tool._knobs import Knobs, flag

from ._constants import RESULT_TOOL_NAME, TOOL_NAME

#: Hints name the server's entry in the MCP client's configuration ("args" and "env").
MCP = Knobs(
    f'{C.ENV_API_KEY} in the "env" block of this server\'s entry in the MCP client configuration',
    setting=lambda name, value="": f"the server argument {flag(name, value)}",
    lead=("the server argument ", "the server arguments "),
)

TOOL_TITLE = "Qwen code interpreter"
TOOL_DESCRIPTION = """\
Ask Qwen (Alibaba Cloud Model Studio / DashScope) to solve a task by reasoning and running real \
Python code in its own remote sandbox. Returns the answer, the code that ran (with its printed \
output where the service returns it) and token usage; structuredContent holds the full record.

Good for: exact arithmetic and big-number math, statistics and data analysis on data you include \
in the question, simulations, unit conversions, and checking a claim or an estimate with real code \
instead of guessing.

How to call: `question` is a complete natural-language task, with every number or data row it \
needs written out (e.g. "What is 123 to the power of 21?", "Mean and standard deviation of \
3, 8, 10, 17"). Do not send bare code to execute; describe what to compute and Qwen writes the \
code. Each call is independent: nothing (variables, files, earlier answers) carries over between \
calls, and the sandbox cannot see the user's files.

Cost: slow (typically tens of seconds, more for heavy computation) and billed per token to the \
server owner's account. Do not use it for what you can answer reliably yourself, and do not repeat \
a call that succeeded. Failures come back as errors that say what happened and whether retrying helps."""

QUESTION_DESCRIPTION = (
    "The task in natural language, self-contained, including all data it needs "
    "(for example: 'What is 123 to the power of 21?'). Not code."
)
INCLUDE_REASONING_DESCRIPTION = (
    "Also return Qwen's reasoning text in the readable output (it is always in structuredContent). "
    "Default false: the answer and the code are usually enough."
)

# The code runs in Alibaba's sandbox: nothing in the user's environment changes. Every call is a new
# model run of an external service: the answer may differ, and it is billed again.
ANNOTATIONS = ToolAnnotations(
    title=TOOL_TITLE, read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

INSTRUCTIONS = (
    f"One tool, {TOOL_NAME}: Qwen answers a natural-language task by running Python in a remote "
    "sandbox. Use it for exact computation and data analysis; each call is slow, billed and stateless."
)

RESULT_TOOL_TITLE = "Qwen code interpreter: result of a run"
RESULT_TOOL_DESCRIPTION = f"""\
Get the result of a {TOOL_NAME} run that was still going when that tool answered with a run_id \
(status "running"). Waits up to {{max_wait:g}} s: returns the finished result (the same as \
{TOOL_NAME} would have), or the run's status again if it is still going; then call this tool \
again with the same run_id. Results are kept {{ttl:g}} s after a run ends. Costs nothing: it \
does not start or bill a new run."""
RUN_ID_DESCRIPTION = f"The run_id from a {TOOL_NAME} answer whose status was 'running'."
# Asking again returns the same result (or the status of the same run), read from this server's own
# record of the run: it calls nothing outside.
RESULT_ANNOTATIONS = ToolAnnotations(
    title=RESULT_TOOL_TITLE, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

#: A new call while the server shuts down (a tool result; over HTTP the gate answers 503 first).
SHUTTING_DOWN_TEXT = (
    "This MCP server is shutting down and takes no new calls. Call again in a moment: a restarted "
    "(or another) server will take it."
)
#: The JSON-RPC error of a request refused while the server shuts down (HTTP 503, stdio).
SHUTDOWN_ERROR_MESSAGE = (
    "This MCP server is shutting down and takes no new calls; send the request again in a moment "
    "(a restarted or another server will take it). Nothing was started or billed."
)
#: A call still waiting for a free slot when shutdown began: refused, never sent upstream.
NOT_STARTED_TEXT = (
    "This MCP server began shutting down while the call waited for a free slot, so it was not started: "
    "nothing was sent to Qwen and nothing was billed. Call again with the same task: a restarted (or "
    "another) server will take it."
)

NO_KEY_TEXT = (
    f"This MCP server has no DashScope API key, so it cannot call Qwen. Set {C.ENV_API_KEY} in the "
    '"env" block of this server\'s entry in the MCP client configuration, for example '
    f'"env": {{"{C.ENV_API_KEY}": "sk-..."}} in claude_desktop_config.json or .cursor/mcp.json, then '
    "restart the server (MCP clients do not pass your shell's environment to servers). Keys come from "
    "the Alibaba Cloud Model Studio console; a key from the Singapore (international) region also "
    f"needs {MCP.setting('region', 'singapore')}.\n\n{retry_advice(missing_key_error())}"
)


#: What each tool argument may be, for a call whose arguments do not fit the input schema.
ARGUMENTS_ALLOWED = {
    "question": QUESTION_ALLOWED,
    "include_reasoning": "true or false (a JSON boolean), or left out",
    "run_id": f"the run_id string from a {TOOL_NAME} answer whose status was 'running'",
}


def invalid_arguments_text(tool: str, errors: Iterable[Mapping[str, Any]]) -> str:
    """The error result of a call whose arguments failed the SDK's validation (pydantic's error dicts)."""
    return for_agent(invalid_arguments(tool, errors, ARGUMENTS_ALLOWED), MCP, tool=tool)


def too_many_runs_text(count: int) -> str:
    return (
        f"This server already has {count} runs in progress, its limit. Collect results "
        f"with {RESULT_TOOL_NAME} or wait before starting another run."
    )


def unexpected_failure_text(error_class: str) -> str:
    return (
        f"The qwen-ci-mcp server failed unexpectedly ({error_class}) while calling Qwen. "
        "This is a bug in the server, not a problem with the question; its log (stderr) has "
        "the details. Retrying may not help."
    )


def cancelled_call_text(reason: str) -> str:
    return f"Cancelled: {reason}."


STOPPED_WAITING_TEXT = "Stopped waiting: the client cancelled the call. The run goes on."


def pending_text(*, run_id: str, stage: str, elapsed: float, max_wait: float, ttl: float, store_down: bool) -> str:
    text = (
        f"Qwen is still working on this task ({elapsed:.0f} s so far; now: {stage}). This is not "
        f'an error and not the answer yet. To get the answer, call {RESULT_TOOL_NAME} with run_id "'
        f'{run_id}": it waits up to {max_wait:g} s and returns the result, or a message like '
        f"this one if the run is still going. Do not call {TOOL_NAME} again for this task: that would "
        f"start a new run, billed again. The result is kept for {ttl:g} s after the run ends."
    )
    if store_down:
        text += (
            " Note: the run store this server shares with its replicas is unavailable right now, so only "
            "this server can answer for this run until the store is back."
        )
    return text


def unknown_run_text(run_id: str, ttl: float) -> str:
    return (
        f"This server has no run {run_id!r}: the id is wrong, belongs to another client, or the run's "
        f"result has expired (results are kept {ttl:g} s after a run ends, and a restarted server with "
        f"no shared run store forgets them). To get an answer, call {TOOL_NAME} again with the task; that "
        "starts a new run, billed again."
    )


def store_unavailable_text(run_id: str) -> str:
    return (
        f"The run store this server shares with its replicas is unavailable right now, so this server "
        f"cannot look up run {run_id!r}. The run itself goes on where it started. Call {RESULT_TOOL_NAME} "
        "again with the same run_id in a moment; do not start the task again (that is billed again)."
    )


def lost_run_text(seconds: float) -> str:
    return (
        f"The server replica running this task stopped before it finished (no news for {seconds:.0f} s), "
        "so its result is lost. Calling the tool again with the task starts a new run, billed again."
    )
