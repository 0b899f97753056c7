"""Streamable HTTP: loopback by default, a bearer token to bind anywhere else, DNS-rebinding checks.

Stateless mode with SSE responses: every request stands alone (no session to lose), and progress
notifications and cancellation still reach the tool (they do not with JSON responses). The app is
the SDK's, behind the gate (``gate``: cancels, refusal while draining), behind the operator's
routes and the bearer check (``routes``). :func:`serve_http` runs it under uvicorn with a graceful
shutdown that ends within the grace (``runs.deadline``), whatever clients send.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import cast

import anyio
import anyio.abc
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from qwen_ci_tool import _constants as C

from .._constants import DEFAULT_SHUTDOWN_GRACE
from .._server import server_runtime
from .._signals import signals
from ..runs.deadline import Deadline
from .auth import AUTH_TOKEN_ENV, Credentials
from .cancels import Exchanges
from .gate import CallGate
from .routes import OpsMiddleware

__all__ = [
    "AUTH_TOKEN_ENV",
    "DEFAULT_SHUTDOWN_GRACE",
    "MAX_REQUEST_BODY_BYTES",
    "build_http_app",
    "ListenError",
    "listening_socket",
    "security_settings",
    "serve_http",
]

logger = logging.getLogger("mcp_server")

MCP_PATH = "/mcp"
#: The most bytes one character of a question can take in a JSON body: a character outside the
#: Basic Multilingual Plane written as an escaped surrogate pair ("\\ud83d\\ude00").
_MAX_JSON_BYTES_PER_CHAR = 12
#: Largest request body accepted (413 above): any question within the tool's character limit fits,
#: however it is encoded, with room for the JSON-RPC envelope.
MAX_REQUEST_BODY_BYTES = C.MAX_INPUT_CHARS * _MAX_JSON_BYTES_PER_CHAR + 64 * 1024
#: The most seconds uvicorn gives open connections once every call is answered (a client trickling
#: a request body, or still reading), within what is left of the grace: then they are closed.
_MAX_CONNECTIONS_WAIT = 2
#: Seconds uvicorn takes, once told to exit, before it waits for connections: its next tick and a pause.
_UVICORN_STEPS = 0.2
#: Seconds without any request in flight before a draining server exits (clients often send one
#: more request right after an answer).
_QUIET_BEFORE_EXIT = 1.0
#: The hosts the SDK protects on its own (its automatic DNS-rebinding allow-list).
_SDK_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_LOOPBACK_PATTERNS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


def _patterns(host: str) -> list[str]:
    """Allowed-hosts patterns for a host name or address: the bare name (a client on the scheme's
    default port, e.g. behind a balancer on 443, sends no port) and the name with any port. An
    explicit port is kept as given."""
    if host.startswith("["):
        return [host] if "]:" in host else [host, f"{host}:*"]
    if host.count(":") > 1:  # a bare IPv6 address
        return [f"[{host}]", f"[{host}]:*"]
    return [host] if ":" in host else [host, f"{host}:*"]


def security_settings(host: str, allowed_hosts: Sequence[str] = ()) -> TransportSecuritySettings | None:
    """DNS-rebinding protection for *host*: ``None`` lets the SDK protect a loopback bind itself.

    Anywhere else the Host header must be one of: the bound address, loopback names, *allowed_hosts*
    and, for a wildcard bind (0.0.0.0 / ::), this machine's host names.
    """
    if host in _SDK_LOOPBACK_HOSTS and not allowed_hosts:
        return None
    names: list[str] = []
    try:
        wildcard = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        names += [socket.gethostname(), socket.getfqdn()]
    else:
        names.append(host)
    names += list(allowed_hosts)
    patterns = list(dict.fromkeys(_LOOPBACK_PATTERNS + [p for n in names if n for p in _patterns(n)]))
    origins = [f"{scheme}://{p}" for p in patterns for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=patterns, allowed_origins=origins
    )


def build_http_app(
    server: MCPServer,
    *,
    host: str,
    credentials: Credentials | None,
    allowed_hosts: Sequence[str] = (),
    exchanges: Exchanges | None = None,
) -> ASGIApp:
    """The ASGI app: the SDK's streamable HTTP app behind the call gate (cancels, shutdown), behind
    the operator's routes and the bearer check (when *credentials* are given), see ``routes``."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=False,
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
        transport_security=security_settings(host, allowed_hosts),
        host=host,
    )
    runtime = server_runtime(server)
    app = CallGate(
        app,
        exchanges=exchanges if exchanges is not None else Exchanges(),
        ready=lambda: runtime.ready,
        body_limit=MAX_REQUEST_BODY_BYTES,
        path=MCP_PATH,
        forward_cancel=runtime.forward_cancel,
    )
    return OpsMiddleware(app, runtime.ops, credentials, ready=lambda: runtime.ready)


async def _reload_on_sighup(credentials: Credentials) -> None:
    with signals("SIGHUP") as received:
        async for _ in received:
            credentials.reload()


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """The bound, listening socket for *config*, made with protocol TCP so that accepted connections
    get TCP_NODELAY (asyncio sets it only on sockets whose protocol is TCP: without it, every small
    response waits ~40 ms for Nagle's algorithm and the client's delayed ACK). Raises
    :class:`ListenError`, which says what to do, when the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:  # uvicorn's bind_socket would log the errno and exit 3 with no advice
        sock.close()
        shown = f"[{config.host}]" if family == socket.AF_INET6 else config.host
        raise ListenError(
            f"cannot listen on {shown}:{config.port}: {exc.strerror or exc}. Stop the process that holds "
            "the port or choose another with --port (--port 0 takes a free one and logs it); --host "
            "must be an address of this machine."
        ) from exc
    sock.listen(config.backlog)  # listening now makes early connections queue
    sock.set_inheritable(True)
    return sock


class ListenError(Exception):
    """The HTTP server cannot listen where it was told to (the port is taken, the address is not ours)."""


def _connections_wait(left: float) -> float:
    """Seconds uvicorn may wait for open connections when *left* seconds of the grace remain: what
    its own steps leave, at most :data:`_MAX_CONNECTIONS_WAIT`, and never 0 (which uvicorn reports
    as a timeout even with nothing open)."""
    return max(0.01, min(left - _UVICORN_STEPS, _MAX_CONNECTIONS_WAIT))


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: :func:`serve_http` shuts down gracefully instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(
    server: MCPServer,
    *,
    host: str,
    port: int,
    credentials: Credentials | None,
    allowed_hosts: Sequence[str] = (),
    log_level: str = "warning",
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully. The caller has checked the token rule.

    On the first signal: new calls get 503 (and ``/readyz`` too), calls queued for a slot are
    refused, calls in flight have *shutdown_grace* seconds less a reserve to finish and be delivered
    (the result tool keeps answering), the rest are cancelled (each answered with an error that
    keeps its partial), and the server exits once every response has gone out, and within
    *shutdown_grace* whatever clients are still sending (see ``runs.deadline``: the drain, the
    delivery, the wait for follow-up requests and for open connections share that one deadline).
    A second signal answers the calls in flight at once with an error saying so and exits (one
    warning line; uvicorn waits at most a couple of seconds for those answers). A token file
    (``credentials.path``) is read again on SIGHUP. With a shared run store, cancels forwarded by
    other replicas reach the requests served here.
    """
    exchanges = Exchanges()
    app = build_http_app(server, host=host, credentials=credentials, allowed_hosts=allowed_hosts, exchanges=exchanges)
    # log_config=None: uvicorn's lines go through the server's own handler (text or JSON, secrets masked).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=_MAX_CONNECTIONS_WAIT,
    )
    # Bind before announcing: once the line is logged, connections queue (and --port 0 shows its port).
    sock = listening_socket(config)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if credentials is None:
        access = "no token; loopback only"
    elif credentials.path is not None:
        access = f"bearer tokens of {len(credentials.names)} clients from {credentials.path}, reloaded on SIGHUP"
    else:
        access = "bearer token required"
    uv = _Server(config)
    runtime = server_runtime(server)

    async def shut_down() -> None:
        deadline = Deadline(shutdown_grace)  # everything below ends within it
        logger.info(
            "qwen-ci-mcp: shutting down: refusing new calls, letting calls in flight finish (up to %g s; exit within %g s)",
            deadline.runs_grace,
            deadline.grace,
        )
        await runtime.drain(deadline, admitted=exchanges.admitted_started, polls=True)
        with anyio.move_on_after(deadline.left()):
            await exchanges.wait_quiet(_QUIET_BEFORE_EXIT)
        logger.info("qwen-ci-mcp: every call answered; exiting")
        exchanges.close()  # a client still sending a body gets its 503 now, not a cut connection
        # uvicorn hands this to asyncio.timeout, which takes fractions of a second (it is annotated int).
        uv.config.timeout_graceful_shutdown = cast("int", _connections_wait(deadline.left()))
        uv.should_exit = True

    def exit_now() -> None:
        # Calls in flight are answered at once with the reason; uvicorn waits (briefly) for those
        # answers to go out, so that the loop's teardown is left no request to cancel (uvicorn
        # reports that with a traceback), and the lifespan (not skipped) ends the runs.
        exchanges.abort_all("the server was told a second time to stop")
        uv.config.timeout_graceful_shutdown = _MAX_CONNECTIONS_WAIT
        uv.should_exit = True

    async def on_signals(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with signals("SIGTERM", "SIGINT") as received:
            task_status.started()
            async with anyio.create_task_group() as tg:
                async for _ in received:
                    break
                tg.start_soon(shut_down)
                async for _ in received:  # a second signal: exit now
                    break
                logger.warning("qwen-ci-mcp: second signal: exiting without waiting")
                tg.cancel_scope.cancel()
            exit_now()
            async for _ in received:  # still watched (the default handlers would print a traceback)
                pass

    def cancel_here(principal: str, request_id: str) -> None:
        if exchanges.cancel(principal, request_id, "the client cancelled the call (through another replica)") == 1:
            logger.info("cancelled request %r on a cancel forwarded by another replica", request_id)

    async with anyio.create_task_group() as tg:
        await tg.start(on_signals)  # watched before anyone is told where to connect
        tg.start_soon(runtime.listen_for_cancels, cancel_here)
        if credentials is not None and credentials.path is not None:
            tg.start_soon(_reload_on_sighup, credentials)
        logger.info("qwen-ci-mcp: listening on http://%s:%d%s (%s)", shown, bound, MCP_PATH, access)
        await uv.serve(sockets=[sock])
        tg.cancel_scope.cancel()
