"""The operator's routes and the bearer check, in front of the MCP app.

- ``GET /healthz``: liveness - 200 while the process serves; no token, no upstream call.
- ``GET /readyz``: readiness - 200, or 503 once shutdown has begun (the server stops taking calls),
  so a balancer stops sending new calls while calls in flight finish.
- ``GET /metrics``: Prometheus text (``_metrics``), behind the same bearer token as ``/mcp``.
- every other request: the bearer check (client name from the token; a request with more than one
  ``Authorization`` header is refused), a request id (the ``X-Request-Id`` a proxy sent, or a new
  one; echoed in the response), both set for the call (``_ops.serving``) so that log lines,
  metrics and run owners carry them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._metrics import CONTENT_TYPE
from .._ops import LOCAL_CLIENT, Ops, serving
from .auth import AUTH_TOKEN_ENV, AUTH_TOKEN_FILE_ENV, Credentials

__all__ = ["HEALTH_PATH", "METRICS_PATH", "READY_PATH", "OpsMiddleware"]

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
#: The JSON-RPC error code of a refused bearer token (implementation-defined range; JSON-RPC has none for it).
UNAUTHORIZED = -32001
REQUEST_ID_HEADER = b"x-request-id"
#: A proxy's request id is taken as is when it looks like one; anything else gets a new id.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def _json(
    status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    data = json.dumps(body).encode()
    return status, data, [(b"content-type", b"application/json"), *headers]


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class OpsMiddleware:
    """The operator's routes, the bearer check and the request's context, in front of the MCP app."""

    def __init__(
        self, app: ASGIApp, ops: Ops, credentials: Credentials | None, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self.app = app
        self.ops = ops
        self.credentials = credentials
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: start-up and shut-down pass straight through
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == HEALTH_PATH:
            await _respond(send, *_json(200, {"status": "ok"}))
            return
        if path == READY_PATH:
            ready = self.ready()
            await _respond(send, *_json(200 if ready else 503, {"status": "ready" if ready else "shutting down"}))
            return
        raw: list[tuple[bytes, bytes]] = list(scope.get("headers", ()))
        authorizations = [value for name, value in raw if name == b"authorization"]
        if len(authorizations) > 1:
            self.ops.metrics.unauthorized.inc()
            await _respond(send, *_two_authorizations())
            return
        headers = dict(raw)
        client = LOCAL_CLIENT
        if self.credentials is not None:
            found = _bearer_client(self.credentials, headers.get(b"authorization", b""))
            if found is None:
                self.ops.metrics.unauthorized.inc()
                await _respond(send, *_unauthorized(b"authorization" in headers, path))
                return
            client = found
        if path == METRICS_PATH:
            await _respond(send, 200, self.ops.metrics.exposition(), [(b"content-type", CONTENT_TYPE.encode())])
            return
        presented = headers.get(REQUEST_ID_HEADER, b"")
        request_id = presented.decode() if _REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())],
                }
            await send(message)

        with serving(client, request_id):
            await self.app(scope, receive, send_with_id)


def _bearer_client(credentials: Credentials, header: bytes) -> str | None:
    scheme, _, presented = header.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return credentials.client_for(presented.strip())


def _unauthorized(sent: bool, path: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    # RFC 6750 3.1: a request that sent no credentials gets the challenge without an error code.
    challenge = b'Bearer realm="qwen-ci-mcp"' + (b', error="invalid_token"' if sent else b"")
    code = "invalid_token" if sent else "missing_token"
    fix = (
        "Send 'Authorization: Bearer <token>' with a token this server accepts "
        f"(--auth-token or {AUTH_TOKEN_ENV}, or one line of --auth-token-file / {AUTH_TOKEN_FILE_ENV})."
    )
    if path == METRICS_PATH:  # a scraper: the OAuth error body
        return _json(401, {"error": code, "error_description": fix}, [(b"www-authenticate", challenge)])
    # An MCP client shows a JSON-RPC error from the body; any other body becomes "Server returned an error response".
    said = "The bearer token sent was not accepted by" if sent else "A bearer token is needed by"
    error = {"code": UNAUTHORIZED, "message": f"{said} this MCP server. {fix}", "data": {"error": code}}
    return _json(401, {"jsonrpc": "2.0", "id": None, "error": error}, [(b"www-authenticate", challenge)])


def _two_authorizations() -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    return _json(
        400,
        {
            "error": "invalid_request",
            "error_description": "Send exactly one 'Authorization: Bearer <token>' header; this request had several.",
        },
    )
