"""The MCP server: ``qwen_code_interpreter`` (and ``qwen_code_interpreter_result``) on the core's async client.

This module builds the server and registers the tools; what happens to a call is the runner's
(``runs.runner``), and every text the tools show is in ``_texts``. Cancellation needs no code
here: the SDK cancels the handler's scope, which the runner turns into a cancelled run.
"""

# No `from __future__ import annotations`: the SDK reads the tool's annotations at registration.

import logging
import math
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Protocol, Unpack

import anyio
import anyio.abc
import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from qwen_ci_tool import AsyncCodeInterpreter, ConfigurationError, __version__
from qwen_ci_tool import _constants as C
from qwen_ci_tool._config import ClientSettings

from . import _constants as K
from . import _texts as T
from ._icons import ICONS
from ._ops import Ops
from ._schema import RunOutputModel
from .runs import DEFAULT_RESULT_TTL, RunStore, open_run_store
from .runs.deadline import Deadline
from .runs.progress import HEARTBEAT_INTERVAL
from .runs.results import MIN_OUTPUT_CHARS, Results
from .runs.runner import Runner

# What this module defines; the package also exports the names and defaults (_constants).
__all__ = [
    "HEARTBEAT_INTERVAL",
    "Runtime",
    "create_server",
    "server_runtime",
]

logger = logging.getLogger("mcp_server")

#: The lifespan-context key of the task group runs live in.
_RUNS = "qwen_ci_runs"


class Runtime(Protocol):
    """What the serving side (transports, shutdown, health checks, metrics) may see and do of a built server."""

    @property
    def ready(self) -> bool:
        """Whether new calls are taken (false once shutdown has begun)."""

    @property
    def ops(self) -> Ops:
        """The server's metrics and call log."""

    async def drain(
        self, grace: float | Deadline, admitted: Callable[[], Awaitable[None]] | None = ..., *, polls: bool = ...
    ) -> None:
        """Refuse new and queued calls, let runs end within the *grace* (a shutdown's deadline, or its
        seconds), then cancel the rest; *admitted* returns once every call a transport let in
        before that has registered its run; *polls*: the transport serves the result tool while
        draining, so results answered with a handle are held until collected (without a shared store)."""

    async def forward_cancel(self, principal: str, request_id: str) -> None:
        """Send a cancel that matched no request here to the other replicas (through the run store)."""

    async def listen_for_cancels(self, cancel: Callable[[str, str], Any]) -> None:
        """Call *cancel* for each cancel other replicas forward, as long as the server runs."""


_RUNTIMES: "weakref.WeakKeyDictionary[MCPServer, Runner]" = weakref.WeakKeyDictionary()


def server_runtime(server: MCPServer) -> Runtime:
    """The run state of a server built by :func:`create_server` (a ``ValueError`` for any other server)."""
    try:
        return _RUNTIMES[server]
    except KeyError:
        name = getattr(server, "name", None)
        raise ValueError(
            f"server_runtime() takes a server built by mcp_server.create_server(); the server {name!r} was not: "
            "build it with create_server() to serve it with this package's transports."
        ) from None


def _invalid(name: str, value: object, rule: str) -> ConfigurationError:
    """A refused server setting; the hint names it as the face that set it spells it (``max_wait``
    from Python, ``--max-wait`` from ``qwen-ci-mcp``: ``describe(knobs)``, see ``qwen_ci_tool._knobs``)."""
    return ConfigurationError(f"Invalid {name.replace('_', ' ')}: {value!r}.", hint=f"{{{name}}} {rule}")


def _check_seconds(name: str, value: float, *, allow_zero: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise _invalid(name, value, f"must be a number of seconds {bound}, and finite.")


def _check_count(name: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise _invalid(name, value, f"must be an integer >= {least}.")


class _Server(MCPServer):
    """The SDK's server, telling a call whose arguments do not fit a tool's input schema in the tools'
    own words (which argument, what is allowed, how to call again) instead of pydantic's report."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            # Chained to the ValidationError: the SDK then logs the argument names only, not the values.
            raise ToolError(T.invalid_arguments_text(name, cause.errors())) from cause


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
    max_concurrency: int = K.DEFAULT_MAX_CONCURRENCY,
    max_output_chars: int = K.DEFAULT_MAX_OUTPUT_CHARS,
    max_wait: float = K.DEFAULT_MAX_WAIT,
    result_ttl: float = DEFAULT_RESULT_TTL,
    run_store: RunStore | str | None = None,
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
    ``result_ttl`` seconds. ``run_store`` is ``"memory"`` (the default: this process) or a
    ``redis://HOST:PORT/DB`` URL (replicas share runs and cancels), or a store object. Logging is left to the
    application (``log_level`` is the SDK's setting, not a logging set-up; ``qwen-ci-mcp`` sets up
    its own).

    Raises :class:`~qwen_ci_tool.ConfigurationError` for invalid settings.
    """
    _check_count("max_concurrency", max_concurrency, 1)
    _check_count("max_output_chars", max_output_chars, MIN_OUTPUT_CHARS)
    if not heartbeat_interval > 0:
        raise _invalid("heartbeat_interval", heartbeat_interval, "must be a positive number of seconds.")
    _check_seconds("max_wait", max_wait, allow_zero=True)
    _check_seconds("result_ttl", result_ttl, allow_zero=False)
    client = AsyncCodeInterpreter(http_client=http_client, **settings)
    # A run cannot outlast its total timeout once it has a slot, nor wait for one much longer: a
    # shared record silent for twice that belongs to a replica that died.
    stale_after = 2 * client.settings.total_timeout + 60
    shared = open_run_store(run_store, ttl=result_ttl, stale_after=stale_after)
    runner = Runner(
        client,
        Ops(),
        Results(max_output_chars, client.settings.api_key),
        max_concurrency=max_concurrency,
        heartbeat=heartbeat_interval,
        max_wait=max_wait,
        result_ttl=result_ttl,
        shared=shared,
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
                await runner.aclose()

    with _logging_left_alone():
        server = _Server(
            K.SERVER_NAME,
            title="Qwen code interpreter (qwen-ci-tool)",
            description="Qwen's hosted code interpreter as an MCP tool: one call, one complete typed result.",
            icons=ICONS,
            instructions=T.INSTRUCTIONS,
            version=__version__,
            lifespan=lifespan,
            subscriptions=False,  # the tool list never changes
            log_level=log_level,  # type: ignore[arg-type]
        )
    _RUNTIMES[server] = runner

    @server.tool(
        name=K.TOOL_NAME, title=T.TOOL_TITLE, description=T.TOOL_DESCRIPTION, annotations=T.ANNOTATIONS, icons=ICONS
    )
    async def qwen_code_interpreter(
        question: Annotated[str, Field(description=T.QUESTION_DESCRIPTION, min_length=1, max_length=C.MAX_INPUT_CHARS)],
        ctx: Context,
        include_reasoning: Annotated[bool, Field(description=T.INCLUDE_REASONING_DESCRIPTION)] = False,
    ) -> Annotated[CallToolResult, RunOutputModel]:
        runs: anyio.abc.TaskGroup = ctx.request_context.lifespan_context[_RUNS]
        return await runner.call(question, include_reasoning, ctx, runs)

    if max_wait > 0:

        @server.tool(
            name=K.RESULT_TOOL_NAME,
            title=T.RESULT_TOOL_TITLE,
            description=T.RESULT_TOOL_DESCRIPTION.format(max_wait=max_wait, ttl=result_ttl),
            annotations=T.RESULT_ANNOTATIONS,
            icons=ICONS,
        )
        async def qwen_code_interpreter_result(
            run_id: Annotated[str, Field(description=T.RUN_ID_DESCRIPTION, min_length=1, max_length=200)],
            ctx: Context,
        ) -> Annotated[CallToolResult, RunOutputModel]:
            return await runner.result(run_id, ctx)

    return server
