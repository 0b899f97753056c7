"""Streamable HTTP: loopback by default, a bearer token to bind anywhere else, DNS-rebinding checks.

Stateless mode with SSE responses: every request stands alone (no session to lose), and progress
notifications and cancellation still reach the tool (they do not with JSON responses).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
from collections.abc import Sequence

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from ._auth import AUTH_TOKEN_ENV, Credentials
from ._ops import OpsMiddleware, ops_of
from ._server import server_runtime

__all__ = [
    "AUTH_TOKEN_ENV",
    "MAX_REQUEST_BODY_BYTES",
    "build_http_app",
    "is_loopback",
    "security_settings",
    "serve_http",
]

logger = logging.getLogger("mcp_server")

MCP_PATH = "/mcp"
#: Largest request body accepted (413 above): a question is at most 500,000 characters, and JSON
#: escaping can take up to 6 bytes per character.
MAX_REQUEST_BODY_BYTES = 4 * 1024 * 1024
#: The hosts the SDK protects on its own (its automatic DNS-rebinding allow-list).
_SDK_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_LOOPBACK_PATTERNS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


def is_loopback(host: str) -> bool:
    """Whether binding *host* keeps the server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    server: MCPServer, *, host: str, credentials: Credentials | None, allowed_hosts: Sequence[str] = ()
) -> ASGIApp:
    """The ASGI app: the SDK's streamable HTTP app behind the operator's routes and the bearer check
    (when *credentials* are given), see ``_ops``."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=False,
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
        transport_security=security_settings(host, allowed_hosts),
        host=host,
    )
    runtime = server_runtime(server)
    return OpsMiddleware(app, ops_of(server), credentials, ready=lambda: runtime.ready)


async def _reload_on_sighup(credentials: Credentials) -> None:
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        async for _ in signals:
            credentials.reload()


async def serve_http(
    server: MCPServer,
    *,
    host: str,
    port: int,
    credentials: Credentials | None,
    allowed_hosts: Sequence[str] = (),
    log_level: str = "warning",
) -> None:
    """Serve until cancelled or interrupted. The caller has already checked the token rule.

    A token file (``credentials.path``) is read again on SIGHUP.
    """
    import uvicorn

    app = build_http_app(server, host=host, credentials=credentials, allowed_hosts=allowed_hosts)
    # log_config=None: uvicorn's lines go through the server's own handler (text or JSON, secrets masked).
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level.lower(), log_config=None, access_log=False, lifespan="on"
    )
    # Bind before announcing: once the line is logged, connections queue (and --port 0 shows its port).
    sock = config.bind_socket()
    sock.listen(config.backlog)  # bind_socket only binds; listening now makes early connections queue
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if credentials is None:
        access = "no token; loopback only"
    elif credentials.path is not None:
        access = f"bearer tokens of {len(credentials.names)} clients from {credentials.path}, reloaded on SIGHUP"
    else:
        access = "bearer token required"
    async with anyio.create_task_group() as tg:
        if credentials is not None and credentials.path is not None:
            tg.start_soon(_reload_on_sighup, credentials)
        logger.info("qwen-ci-mcp: listening on http://%s:%d%s (%s)", shown, bound, MCP_PATH, access)
        await uvicorn.Server(config).serve(sockets=[sock])
        tg.cancel_scope.cancel()
