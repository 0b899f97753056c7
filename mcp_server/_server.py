"""The MCP server: one async tool, ``qwen_code_interpreter``, on top of the core's async client.

What the tool adds to the core is MCP plumbing only: stage progress (plus a heartbeat while the
service is silent), a cap on concurrent upstream calls, a cap on the text handed to the model, and
failures turned into ``isError`` results that say what to do. Cancellation needs no code: the
SDK cancels the handler's scope, which closes the core's stream and with it the HTTP request.
"""

# No `from __future__ import annotations`: the SDK reads the tool's annotations at registration.

import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Final, Protocol, Unpack

import anyio
import anyio.abc
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
from qwen_ci_tool._errors import missing_key_error
from qwen_ci_tool._explain import cancelled_for_agent, for_agent, incomplete_for_agent, retry_advice
from qwen_ci_tool._knobs import MCP
from qwen_ci_tool._result import result_markdown
from qwen_ci_tool._stages import is_work_stage

from ._exchanges import current_exchange
from ._fit import MAX_RESULT_BYTES, compact_record, fit_record, size_of
from ._icons import ICONS
from ._ops import CallRecord, Ops, register_ops
from ._runs import DEFAULT_RESULT_TTL, MemoryRunStore, RunRecord, RunStore, new_run_id
from ._schema import RunOutputModel, RunPendingModel

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_OUTPUT_CHARS",
    "DEFAULT_MAX_WAIT",
    "HEARTBEAT_INTERVAL",
    "RESULT_TOOL_NAME",
    "Runtime",
    "SERVER_NAME",
    "TOOL_NAME",
    "create_server",
    "server_runtime",
]

logger = logging.getLogger("mcp_server")

SERVER_NAME = "qwen-ci-tool"
TOOL_NAME = "qwen_code_interpreter"
RESULT_TOOL_NAME: Final = "qwen_code_interpreter_result"
#: Seconds a call is held before a run still going is answered with its handle: under the 60 s
#: that many clients allow a request, whatever progress they get.
DEFAULT_MAX_WAIT = 50.0
#: Runs in progress at once (each queued for a slot or running); beyond it calls are refused.
MAX_LIVE_RUNS = 1000
#: The lifespan-context key of the task group runs live in.
_RUNS = "qwen_ci_runs"
#: Upstream calls running at once; further calls wait for a free slot (and say so in progress).
DEFAULT_MAX_CONCURRENCY = 4
#: Characters a result may send, text and structuredContent together (the text at most half).
DEFAULT_MAX_OUTPUT_CHARS = 40_000
#: Characters kept free in the budget for the note saying what was cut from structuredContent.
_CUT_NOTE_ROOM = 400
#: The text is never cut below this (an error message must stay whole).
_MIN_TEXT_CHARS = 500
#: Smallest cap accepted: below this even an error message and the record's skeleton would be cut.
MIN_OUTPUT_CHARS = 2_000
#: Seconds without a progress report before a heartbeat is sent. Well under 10 s, so that clients
#: that reset a 60 s request timeout on progress (and users watching) always see a live call.
HEARTBEAT_INTERVAL = 5.0

#: Stages not sent as progress: each comes immediately before another report or the result.

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

RESULT_TOOL_TITLE = "Qwen code interpreter: result of a run"
RESULT_TOOL_DESCRIPTION = f"""\
Get the result of a {TOOL_NAME} run that was still going when that tool answered with a run_id \
(status "running"). Waits up to {{max_wait:g}} s: returns the finished result (the same as \
{TOOL_NAME} would have), or the run's status again if it is still going; then call this tool \
again with the same run_id. Results are kept {{ttl:g}} s after a run ends. Costs nothing: it \
does not start or bill a new run."""
RUN_ID_DESCRIPTION = f"The run_id from a {TOOL_NAME} answer whose status was 'running'."
RESULT_ANNOTATIONS = ToolAnnotations(
    title=RESULT_TOOL_TITLE,
    read_only_hint=True,
    destructive_hint=False,
    # Asking again returns the same result (or the status of the same run).
    idempotent_hint=True,
    # It reads this server's own record of a run; it calls nothing outside.
    open_world_hint=False,
)

SHUTTING_DOWN_TEXT = (
    "This MCP server is shutting down and takes no new calls. Call again in a moment: a restarted "
    "(or another) server will take it."
)

NO_KEY_TEXT = (
    f"This MCP server has no DashScope API key, so it cannot call Qwen. Set {C.ENV_API_KEY} in the "
    '"env" block of this server\'s entry in the MCP client configuration, for example '
    f'"env": {{"{C.ENV_API_KEY}": "sk-..."}} in claude_desktop_config.json or .cursor/mcp.json, then '
    "restart the server (MCP clients do not pass your shell's environment to servers). Keys come from "
    "the Alibaba Cloud Model Studio console; a key from the Singapore (international) region also "
    f"needs {MCP.setting('region', 'singapore')}.\n\n{retry_advice(missing_key_error())}"
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


class _LiveRun:
    """A run executing in this process: its newest record, its cancel scope and why it was cancelled."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.scope = anyio.CancelScope()
        self.reason: str | None = None
        self.partial: CodeInterpreterResult | None = None
        #: The progress reporters of the calls waiting for this run in this process.
        self.listeners: set[Callable[[str, str | None], Awaitable[None]]] = set()

    def cancel(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()


class _Runner:
    """Shared per server: the core client, the concurrency slots, the runs and the limits.

    Every call starts a run in the background (in the task group the server's lifespan holds) and
    waits for it through the run store, up to ``max_wait`` seconds; a run still going then is
    answered with its handle. A client that gives up on the call it started cancels its run.
    """

    def __init__(
        self,
        client: AsyncCodeInterpreter,
        ops: Ops,
        *,
        max_concurrency: int,
        max_output_chars: int,
        heartbeat: float,
        max_wait: float,
        store: RunStore,
        result_ttl: float,
    ) -> None:
        self.client = client
        self.ops = ops
        self.max_concurrency = max_concurrency
        self.max_output_chars = max_output_chars
        self.heartbeat = heartbeat
        self.max_wait = max_wait
        self.store = store
        self.result_ttl = result_ttl
        self.slots = anyio.Semaphore(max_concurrency)
        self.live: dict[str, _LiveRun] = {}
        self.accepting = True
        self._run_ended = anyio.Event()

    def _clean(self, text: str) -> str:
        key = self.client.settings.api_key
        return key.redact(text) if key is not None else text

    # -- the two tools ------------------------------------------------------------------------

    async def call(self, question: str, include_reasoning: bool, ctx: Context) -> CallToolResult:
        if not self.accepting:
            self.ops.refused("ShuttingDown")
            return _text_result(SHUTTING_DOWN_TEXT, is_error=True)
        if self.client.settings.api_key is None:
            logger.warning("%s called but %s is not set", TOOL_NAME, C.ENV_API_KEY)
            self.ops.refused("ConfigurationError")
            return _text_result(NO_KEY_TEXT, is_error=True)
        if len(self.live) >= MAX_LIVE_RUNS:
            self.ops.refused("TooManyRuns")
            return _text_result(
                f"This server already has {len(self.live)} runs in progress, its limit. Collect results "
                f"with {RESULT_TOOL_NAME} or wait before starting another run.",
                is_error=True,
            )
        run = _LiveRun(RunRecord(new_run_id(), started_at=time.time()))
        self.live[run.record.run_id] = run
        await self.store.put(run.record)
        runs: anyio.abc.TaskGroup = ctx.request_context.lifespan_context[_RUNS]
        runs.start_soon(self._execute, run, question, include_reasoning)
        # The client cancelling or timing out while it waits for the run it started (the SDK
        # cancels this handler; over HTTP the gate may abort the exchange instead): nobody will ask
        # for the result, so the upstream request is closed now, not when it ends.
        exchange = current_exchange.get()
        with exchange.guard() if exchange is not None else anyio.CancelScope():
            try:
                answer = await self._await(run.record.run_id, ctx, after_version=run.record.version)
            except anyio.get_cancelled_exc_class():
                run.cancel("the client cancelled the call")
                raise
            if isinstance(answer.structured_content, dict) and answer.structured_content.get("status") == "running":
                self.ops.handle_issued(run.record.run_id)
            return answer
        assert exchange is not None and exchange.reason is not None
        run.cancel(exchange.reason)
        return _text_result(f"Cancelled: {exchange.reason}.", is_error=True)

    async def result(self, run_id: str, ctx: Context) -> CallToolResult:
        if not self.accepting:
            return _text_result(SHUTTING_DOWN_TEXT, is_error=True)
        # Waiting again does not own the run: a client giving up here leaves it running.
        exchange = current_exchange.get()
        with exchange.guard() if exchange is not None else anyio.CancelScope():
            return await self._await(run_id.strip(), ctx, after_version=-1)
        return _text_result("Stopped waiting: the client cancelled the call. The run goes on.", is_error=True)

    # -- waiting --------------------------------------------------------------------------------

    async def _await(self, run_id: str, ctx: Context, *, after_version: int) -> CallToolResult:
        """The run's result, or its handle once ``max_wait`` passes; progress meanwhile.

        A run in this process reports each stage to its waiters as it happens; a run elsewhere (a
        shared store) is followed through its records, which may skip stages between two looks.
        """
        progress = _Progress(ctx, self.heartbeat)
        deadline = anyio.current_time() + self.max_wait if self.max_wait > 0 else math.inf
        local = self.live.get(run_id)
        record: RunRecord | None = None
        version = after_version
        if local is not None:
            local.listeners.add(progress.report)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(progress.heartbeat)
                while True:
                    record = await self.store.wait(run_id, version, deadline - anyio.current_time())
                    if record is None or record.state == "finished" or anyio.current_time() >= deadline:
                        break
                    if record.version != version:
                        version = record.version
                        if local is None or after_version < 0:
                            await progress.report(record.stage, record.message)
                            after_version = 0
                tg.cancel_scope.cancel()
        finally:
            if local is not None:
                local.listeners.discard(progress.report)
        if record is None:
            return self._unknown_run(run_id)
        if record.state == "finished" and record.result is not None:
            return CallToolResult.model_validate(record.result)
        return self._pending(record)

    def _pending(self, record: RunRecord) -> CallToolResult:
        elapsed = max(0.0, time.time() - record.started_at)
        pending = RunPendingModel(
            status="running",
            run_id=record.run_id,
            stage=record.stage,
            elapsed_seconds=round(elapsed, 1),
            result_tool=RESULT_TOOL_NAME,
        )
        text = (
            f"Qwen is still working on this task ({elapsed:.0f} s so far; now: {record.stage}). This is not "
            f'an error and not the answer yet. To get the answer, call {RESULT_TOOL_NAME} with run_id "'
            f'{record.run_id}": it waits up to {self.max_wait:g} s and returns the result, or a message like '
            f"this one if the run is still going. Do not call {TOOL_NAME} again for this task: that would "
            f"start a new run, billed again. The result is kept for {self.result_ttl:g} s after the run ends."
        )
        return _text_result(text, is_error=False, structured=pending.model_dump(mode="json"))

    def _unknown_run(self, run_id: str) -> CallToolResult:
        return _text_result(
            f"This server has no run {run_id!r}: the id is wrong, or the run's result has expired (results "
            f"are kept {self.result_ttl:g} s after a run ends, and a restarted server forgets them). To get an "
            f"answer, call {TOOL_NAME} again with the task; that starts a new run, billed again.",
            is_error=True,
        )

    # -- running ----------------------------------------------------------------------------

    async def _execute(self, run: _LiveRun, question: str, include_reasoning: bool) -> None:
        outcome: CallToolResult | None = None
        try:
            # Started from the call's task, so the run is counted and logged under the caller's
            # name; counted before the result is published, so metrics never lag an answer.
            with self.ops.track_call(run.record.run_id) as call:
                with run.scope:
                    outcome = await self._run(question, include_reasoning, run, call)
                if outcome is None:
                    call.cancelled(run.partial)
        finally:  # also when the lifespan's task group is cancelled: the record still ends
            if outcome is None:
                logger.info("%s cancelled: %s", TOOL_NAME, run.reason or "the server stopped")
                outcome = self._cancelled(run, include_reasoning)
            with anyio.CancelScope(shield=True):
                run.record = run.record.advanced(
                    state="finished",
                    stage="done",
                    message="done",
                    result=outcome.model_dump(mode="json", by_alias=True, exclude_none=True),
                    finished_at=time.time(),
                )
                await self.store.put(run.record)
                del self.live[run.record.run_id]
                ended, self._run_ended = self._run_ended, anyio.Event()
                ended.set()

    async def _stage(self, run: _LiveRun, stage: str, message: str | None = None) -> None:
        run.record = run.record.advanced(stage=stage, message=message or stage)
        await self.store.put(run.record)
        for report in list(run.listeners):
            await report(stage, message)

    async def _run(self, question: str, include_reasoning: bool, run: _LiveRun, call: CallRecord) -> CallToolResult:
        call.waiting()
        if self.slots.value == 0:
            await self._stage(
                run,
                "waiting for a free slot",
                f"waiting for a free slot (at most {self.max_concurrency} concurrent calls)",
            )
        async with self.slots:
            call.running()
            await self._stage(run, "sending the question to Qwen")
            tracker = StageTracker()
            try:
                async with self.client.stream(question) as stream:
                    try:
                        async for event in stream:
                            stage = tracker.update(event)
                            # "connected" is followed at once by the first content stage, and "done" by
                            # the result itself: neither is worth a notification.
                            if is_work_stage(stage):
                                await self._stage(run, stage)
                    except anyio.get_cancelled_exc_class():
                        run.partial = stream.snapshot()
                        raise
                    result = await stream.get_final_result()
            except QwenCIError as err:
                call.failed(err)
                return self._failure(err, include_reasoning)
            except Exception as exc:
                # Not a service failure: a bug here. Its text is not shown (it could carry anything);
                # the traceback goes to the server's log.
                logger.exception("%s raised unexpectedly", TOOL_NAME)
                call.failed(exc)
                return _text_result(
                    f"The qwen-ci-mcp server failed unexpectedly ({type(exc).__name__}) while calling Qwen. "
                    "This is a bug in the server, not a problem with the question; its log (stderr) has "
                    "the details. Retrying may not help.",
                    is_error=True,
                )
        call.finished(result)
        return self._success(result, include_reasoning)

    # -- shutting down --------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether new calls are taken (false once shutdown has begun)."""
        return self.accepting

    async def drain(self, grace: float) -> None:
        """Refuse new calls, let runs end for up to *grace* seconds, then cancel the rest.

        A cancelled run ends with an error result that keeps its partial record, which its waiting
        call delivers.
        """
        self.accepting = False
        with anyio.move_on_after(grace):
            while self.live:
                await self._run_ended.wait()
        for run in list(self.live.values()):
            run.cancel(f"the server is shutting down (it let running calls finish for {grace:g} s)")
        while self.live:
            await self._run_ended.wait()

    # -- results ------------------------------------------------------------------------------

    def _success(self, result: CodeInterpreterResult, include_reasoning: bool) -> CallToolResult:
        if result.status == "completed":
            return self._package(
                lambda cap: result_markdown(result, include_reasoning=include_reasoning, max_chars=cap), False, result
            )
        # The stream ended cleanly but the model did not finish (e.g. its length limit): an error the
        # model must not mistake for an answer, with what arrived kept.
        return self._package(
            lambda cap: incomplete_for_agent(result, include_reasoning=include_reasoning, max_chars=cap), True, result
        )

    def _failure(self, err: QwenCIError, include_reasoning: bool) -> CallToolResult:
        # Returned rather than raised as ToolError: an error result can still carry the partial
        # record as structuredContent (the SDK does not check error results against the schema).
        return self._package(
            lambda cap: for_agent(err, MCP, tool=TOOL_NAME, include_reasoning=include_reasoning, max_chars=cap),
            True,
            err.partial,
        )

    def _cancelled(self, run: _LiveRun, include_reasoning: bool) -> CallToolResult:
        reason = run.reason or "the server stopped"
        return self._package(
            lambda cap: cancelled_for_agent(
                reason, run.partial, tool=TOOL_NAME, include_reasoning=include_reasoning, max_chars=cap
            ),
            True,
            run.partial,
        )

    def _package(
        self, make_text: Callable[[int], str], is_error: bool, result: CodeInterpreterResult | None
    ) -> CallToolResult:
        """Text and structuredContent within ``max_output_chars`` together, and within one SSE event.

        The text may take half the budget; the record takes what the text left, cut where needed
        (see ``_fit``), and the text then says what was cut.
        """
        budget = self.max_output_chars
        # What the record takes with every text cut away: the text must leave room for it.
        skeleton = size_of(fit_record(compact_record(result), 0)) + _CUT_NOTE_ROOM if result is not None else 0
        while True:
            text = self._clean(make_text(max(min(budget // 2, budget - skeleton), _MIN_TEXT_CHARS)))
            structured = None
            if result is not None:
                structured = fit_record(compact_record(result), budget - len(text) - _CUT_NOTE_ROOM)
                if structured["truncated"]:
                    text += (
                        f"\n[structuredContent was cut to fit this server's --max-output-chars "
                        f"({self.max_output_chars:,}): {'; '.join(structured['truncated'])[: _CUT_NOTE_ROOM - 120]}]\n"
                    )
            packed = _text_result(text, is_error=is_error, structured=structured)
            size = len(packed.model_dump_json(by_alias=True, exclude_none=True).encode())
            if size <= MAX_RESULT_BYTES or budget <= MIN_OUTPUT_CHARS:
                return packed
            # Characters that take several bytes each: try again with the budget this size allows.
            budget = max(MIN_OUTPUT_CHARS, int(budget * MAX_RESULT_BYTES / size * 0.9))


_RUNNERS: "weakref.WeakKeyDictionary[MCPServer, _Runner]" = weakref.WeakKeyDictionary()


class Runtime(Protocol):
    """What the serving side (HTTP shutdown, health checks) may see and do of a built server."""

    @property
    def ready(self) -> bool:
        """Whether new calls are taken (false once shutdown has begun)."""

    async def drain(self, grace: float) -> None:
        """Refuse new calls, let runs end for up to *grace* seconds, then cancel the rest."""


def server_runtime(server: MCPServer) -> Runtime:
    """The run state of a server built by :func:`create_server`."""
    return _RUNNERS[server]


def _check_seconds(name: str, value: float, *, allow_zero: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{name} must be a number of seconds {bound}, got {value!r}.")


@contextmanager
def _logging_left_alone() -> Iterator[None]:
    """Build the SDK's server without its logging set-up: ``MCPServer()`` calls
    ``logging.basicConfig`` (a rich handler on the root logger at INFO, which floods an embedding
    application with httpx lines) unless the root logger already has a handler. Logging is the
    application's to configure; ``qwen-ci-mcp`` configures its own before building the server."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)


def create_server(
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    max_wait: float = DEFAULT_MAX_WAIT,
    result_ttl: float = DEFAULT_RESULT_TTL,
    run_store: RunStore | None = None,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
    http_client: httpx.AsyncClient | None = None,
    log_level: str = "INFO",
    **settings: Unpack[ClientSettings],
) -> MCPServer:
    """Build the MCP server with its tools.

    Settings are the core client's (``api_key`` from ``DASHSCOPE_API_KEY`` when not given). A missing
    key is not an error here: the server starts and lists its tool, and each call says how to set it.
    ``max_wait`` (seconds, 0 = wait for every run to end) bounds how long a call is held before it is
    answered with a run handle for ``qwen_code_interpreter_result``; finished runs are kept
    ``result_ttl`` seconds in ``run_store`` (by default in this process). Logging is left to the
    application (``log_level`` is the SDK's setting, not a logging set-up; ``qwen-ci-mcp`` sets up
    its own).

    Raises :class:`~qwen_ci_tool.ConfigurationError` for invalid settings.
    """
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}.")
    if (
        isinstance(max_output_chars, bool)
        or not isinstance(max_output_chars, int)
        or max_output_chars < MIN_OUTPUT_CHARS
    ):
        raise ConfigurationError(
            f"max_output_chars must be an integer >= {MIN_OUTPUT_CHARS}, got {max_output_chars!r}."
        )
    if not heartbeat_interval > 0:
        raise ConfigurationError(f"heartbeat_interval must be positive, got {heartbeat_interval!r}.")
    _check_seconds("max_wait", max_wait, allow_zero=True)
    _check_seconds("result_ttl", result_ttl, allow_zero=False)
    client = AsyncCodeInterpreter(http_client=http_client, **settings)
    runner = _Runner(
        client,
        Ops(),
        max_concurrency=max_concurrency,
        max_output_chars=max_output_chars,
        heartbeat=heartbeat_interval,
        max_wait=max_wait,
        store=run_store if run_store is not None else MemoryRunStore(ttl=result_ttl),
        result_ttl=result_ttl,
    )

    open_lifespans = 0

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # Entered once per stdio process or HTTP app, but once per connection for in-process
        # clients: the shared HTTP client closes when the last one ends, not under a running call.
        # Runs started under a lifespan live in its task group, so a run can outlast its call.
        nonlocal open_lifespans
        open_lifespans += 1
        try:
            async with anyio.create_task_group() as runs:
                try:
                    yield {_RUNS: runs}
                finally:
                    runs.cancel_scope.cancel()
        finally:
            open_lifespans -= 1
            if open_lifespans == 0:
                await client.aclose()

    with _logging_left_alone():
        server = MCPServer(
            SERVER_NAME,
            title="Qwen code interpreter (qwen-ci-tool)",
            description="Qwen's hosted code interpreter as an MCP tool: one call, one complete typed result.",
            icons=ICONS,
            instructions=INSTRUCTIONS,
            version=__version__,
            lifespan=lifespan,
            subscriptions=False,  # the tool list never changes
            log_level=log_level,  # type: ignore[arg-type]
        )
    _RUNNERS[server] = runner
    register_ops(server, runner.ops)

    @server.tool(name=TOOL_NAME, title=TOOL_TITLE, description=TOOL_DESCRIPTION, annotations=ANNOTATIONS, icons=ICONS)
    async def qwen_code_interpreter(
        question: Annotated[str, Field(description=QUESTION_DESCRIPTION, min_length=1, max_length=C.MAX_INPUT_CHARS)],
        ctx: Context,
        include_reasoning: Annotated[bool, Field(description=INCLUDE_REASONING_DESCRIPTION)] = False,
    ) -> Annotated[CallToolResult, RunOutputModel]:
        return await runner.call(question, include_reasoning, ctx)

    if max_wait > 0:

        @server.tool(
            name=RESULT_TOOL_NAME,
            title=RESULT_TOOL_TITLE,
            description=RESULT_TOOL_DESCRIPTION.format(max_wait=max_wait, ttl=result_ttl),
            annotations=RESULT_ANNOTATIONS,
            icons=ICONS,
        )
        async def qwen_code_interpreter_result(
            run_id: Annotated[str, Field(description=RUN_ID_DESCRIPTION, min_length=1, max_length=200)],
            ctx: Context,
        ) -> Annotated[CallToolResult, RunOutputModel]:
            return await runner.result(run_id, ctx)

    return server
