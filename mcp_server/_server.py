"""The MCP server: one async tool, ``qwen_code_interpreter``, on top of the core's async client.

What the tool adds to the core is MCP plumbing only: stage progress (plus a heartbeat while the
service is silent), a cap on concurrent upstream calls, a cap on the text handed to the model, and
failures turned into ``isError`` results that say what to do. Cancellation needs no code: the
SDK cancels the handler's scope, which closes the core's stream and with it the HTTP request.
"""

# No `from __future__ import annotations`: the SDK reads the tool's annotations at registration.

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Unpack

import anyio
import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from qwen_ci_tool import (
    AsyncCodeInterpreter,
    CodeInterpreterResult,
    ConfigurationError,
    QwenCIError,
    StageTracker,
    __version__,
)
from qwen_ci_tool import _constants as C
from qwen_ci_tool._config import ClientSettings
from qwen_ci_tool._explain import for_agent, incomplete_for_agent
from qwen_ci_tool._knobs import MCP
from qwen_ci_tool._render import result_markdown

from ._schema import CodeInterpreterResultModel

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_OUTPUT_CHARS",
    "HEARTBEAT_INTERVAL",
    "SERVER_NAME",
    "TOOL_NAME",
    "create_server",
]

logger = logging.getLogger("mcp_server")

SERVER_NAME = "qwen-ci-tool"
TOOL_NAME = "qwen_code_interpreter"
#: Upstream calls running at once; further calls wait for a free slot (and say so in progress).
DEFAULT_MAX_CONCURRENCY = 4
#: Characters of text content handed to the model; the full record stays in structuredContent.
DEFAULT_MAX_OUTPUT_CHARS = 20_000
#: Smallest text cap accepted: below this even an error message would be cut.
MIN_OUTPUT_CHARS = 500
#: Seconds without a progress report before a heartbeat is sent. Well under 10 s, so that clients
#: that reset a 60 s request timeout on progress (and users watching) always see a live call.
HEARTBEAT_INTERVAL = 5.0

#: Stages not sent as progress: each comes immediately before another report or the result.
_UNREPORTED_STAGES = frozenset({"connected", "done"})

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

ANNOTATIONS = ToolAnnotations(
    title=TOOL_TITLE,
    # The code runs in Alibaba's sandbox; nothing in the user's environment changes.
    read_only_hint=True,
    destructive_hint=False,
    # Every call is a new model run: the answer may differ, and it is billed again.
    idempotent_hint=False,
    # It calls an external service.
    open_world_hint=True,
)

INSTRUCTIONS = (
    f"One tool, {TOOL_NAME}: Qwen answers a natural-language task by running Python in a remote "
    "sandbox. Use it for exact computation and data analysis; each call is slow, billed and stateless."
)

NO_KEY_TEXT = (
    f"This MCP server has no DashScope API key, so it cannot call Qwen. Set {C.ENV_API_KEY} in the "
    '"env" block of this server\'s entry in the MCP client configuration, for example '
    f'"env": {{"{C.ENV_API_KEY}": "sk-..."}} in claude_desktop_config.json or .cursor/mcp.json, then '
    "restart the server (MCP clients do not pass your shell's environment to servers). Keys come from "
    "the Alibaba Cloud Model Studio console; a key from the Singapore (international) region also "
    "needs the server argument --region singapore. Calling again without a key will fail the same way."
)


class _Progress:
    """Progress reports with a strictly increasing counter, from the call and from its heartbeat.

    Reporting is best-effort: a client that cannot take a notification does not fail the call.
    ``report_progress`` is a no-op when the client sent no progress token.
    """

    def __init__(self, ctx: Context, interval: float) -> None:
        self._ctx = ctx
        self._interval = interval
        self._count = 0
        self._lock = anyio.Lock()
        self.stage = "starting"
        self._started = self._last = anyio.current_time()

    async def report(self, stage: str, message: str | None = None) -> None:
        # The lock keeps the counter and the order of notifications in step across both tasks.
        async with self._lock:
            self.stage = stage
            self._count += 1
            self._last = anyio.current_time()
            try:
                await self._ctx.report_progress(self._count, None, message or stage)
            except Exception:  # the call itself goes on; the client will see the result
                logger.debug("progress notification not delivered", exc_info=True)

    async def heartbeat(self) -> None:
        while True:
            await anyio.sleep(max(0.0, self._last + self._interval - anyio.current_time()))
            now = anyio.current_time()
            if now - self._last >= self._interval:
                await self.report(self.stage, f"{self.stage} (still working, {now - self._started:.0f} s elapsed)")


def _text_result(text: str, *, is_error: bool, structured: dict[str, Any] | None = None) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured, is_error=is_error
    )


class _Runner:
    """Shared per server: the core client, the concurrency slots and the limits."""

    def __init__(
        self, client: AsyncCodeInterpreter, *, max_concurrency: int, max_output_chars: int, heartbeat: float
    ) -> None:
        self.client = client
        self.max_concurrency = max_concurrency
        self.max_output_chars = max_output_chars
        self.heartbeat = heartbeat
        self.slots = anyio.Semaphore(max_concurrency)

    def _clean(self, text: str) -> str:
        key = self.client.settings.api_key
        return key.redact(text) if key is not None else text

    async def call(self, question: str, include_reasoning: bool, ctx: Context) -> CallToolResult:
        if self.client.settings.api_key is None:
            logger.warning("%s called but %s is not set", TOOL_NAME, C.ENV_API_KEY)
            return _text_result(NO_KEY_TEXT, is_error=True)
        progress = _Progress(ctx, self.heartbeat)
        async with anyio.create_task_group() as tg:
            tg.start_soon(progress.heartbeat)
            try:
                outcome = await self._run(question, include_reasoning, progress)
            finally:
                tg.cancel_scope.cancel()
        return outcome

    async def _run(self, question: str, include_reasoning: bool, progress: _Progress) -> CallToolResult:
        if self.slots.value == 0:
            await progress.report(
                "waiting for a free slot", f"waiting for a free slot (at most {self.max_concurrency} concurrent calls)"
            )
        async with self.slots:
            await progress.report("sending the question to Qwen")
            tracker = StageTracker()
            try:
                async with self.client.stream(question) as stream:
                    async for event in stream:
                        stage = tracker.update(event)
                        # "connected" is followed at once by the first content stage, and "done" by
                        # the result itself: neither is worth a notification (each costs a stdio
                        # round of the SDK's writer thread).
                        if stage is not None and stage not in _UNREPORTED_STAGES:
                            await progress.report(stage)
                    result = await stream.get_final_result()
            except QwenCIError as err:
                logger.info("%s failed: %s", TOOL_NAME, type(err).__name__)
                return self._failure(err, include_reasoning)
            except Exception as exc:
                # Not a service failure: a bug here. Its text is not shown (it could carry anything);
                # the traceback goes to the server's log.
                logger.exception("%s raised unexpectedly", TOOL_NAME)
                return _text_result(
                    f"The qwen-ci-mcp server failed unexpectedly ({type(exc).__name__}) while calling Qwen. "
                    "This is a bug in the server, not a problem with the question; its log (stderr) has "
                    "the details. Retrying may not help.",
                    is_error=True,
                )
        logger.info(
            "%s finished: status=%s request_id=%s tokens=%d in %.1f s",
            TOOL_NAME,
            result.status,
            result.request_id,
            result.usage.total_tokens,
            result.timings.total_time,
        )
        return self._success(result, include_reasoning)

    def _success(self, result: CodeInterpreterResult, include_reasoning: bool) -> CallToolResult:
        if result.status == "completed":
            text = result_markdown(result, include_reasoning=include_reasoning, max_chars=self.max_output_chars)
            return _text_result(self._clean(text), is_error=False, structured=result.to_dict())
        # The stream ended cleanly but the model did not finish (e.g. its length limit): an error the
        # model must not mistake for an answer, with what arrived kept.
        text = incomplete_for_agent(result, include_reasoning=include_reasoning, max_chars=self.max_output_chars)
        return _text_result(self._clean(text), is_error=True, structured=result.to_dict())

    def _failure(self, err: QwenCIError, include_reasoning: bool) -> CallToolResult:
        # Returned rather than raised as ToolError: an error result can still carry the partial
        # record as structuredContent (the SDK does not check error results against the schema).
        text = for_agent(err, MCP, tool=TOOL_NAME, include_reasoning=include_reasoning, max_chars=self.max_output_chars)
        structured = err.partial.to_dict() if err.partial is not None else None
        return _text_result(self._clean(text), is_error=True, structured=structured)


def create_server(
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
    http_client: httpx.AsyncClient | None = None,
    log_level: str = "INFO",
    **settings: Unpack[ClientSettings],
) -> MCPServer:
    """Build the MCP server with its one tool.

    Settings are the core client's (``api_key`` from ``DASHSCOPE_API_KEY`` when not given). A missing
    key is not an error here: the server starts and lists its tool, and each call says how to set it.

    Raises :class:`~qwen_ci_tool.ConfigurationError` for invalid settings.
    """
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}.")
    if isinstance(max_output_chars, bool) or not isinstance(max_output_chars, int) or max_output_chars < MIN_OUTPUT_CHARS:
        raise ConfigurationError(
            f"max_output_chars must be an integer >= {MIN_OUTPUT_CHARS}, got {max_output_chars!r}."
        )
    if not heartbeat_interval > 0:
        raise ConfigurationError(f"heartbeat_interval must be positive, got {heartbeat_interval!r}.")
    client = AsyncCodeInterpreter(http_client=http_client, **settings)
    runner = _Runner(
        client, max_concurrency=max_concurrency, max_output_chars=max_output_chars, heartbeat=heartbeat_interval
    )

    open_lifespans = 0

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # Entered once per stdio process or HTTP app, but once per connection for in-process
        # clients: the shared HTTP client closes when the last one ends, not under a running call.
        nonlocal open_lifespans
        open_lifespans += 1
        try:
            yield {}
        finally:
            open_lifespans -= 1
            if open_lifespans == 0:
                await client.aclose()

    server = MCPServer(
        SERVER_NAME,
        title="Qwen code interpreter (qwen-ci-tool)",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        subscriptions=False,  # the tool list never changes
        log_level=log_level,  # type: ignore[arg-type]
    )

    @server.tool(name=TOOL_NAME, title=TOOL_TITLE, description=TOOL_DESCRIPTION, annotations=ANNOTATIONS)
    async def qwen_code_interpreter(
        question: Annotated[str, Field(description=QUESTION_DESCRIPTION, min_length=1, max_length=C.MAX_INPUT_CHARS)],
        ctx: Context,
        include_reasoning: Annotated[bool, Field(description=INCLUDE_REASONING_DESCRIPTION)] = False,
    ) -> Annotated[CallToolResult, CodeInterpreterResultModel]:
        return await runner.call(question, include_reasoning, ctx)

    return server
