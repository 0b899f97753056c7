"""The HTTP gate in front of the SDK's app: cancels that reach their call, and refusal while draining.

For each POST it reads the (bounded) body once and replays it to the SDK, then:

- a body the JSON parser cannot take (nested too deep) gets 400 with a JSON-RPC parse error;
- a JSON-RPC request opens an :class:`~.._requests.Exchange` for the time it is served (the tool
  handler waits inside it), and the client's disconnect aborts it at once;
- ``notifications/cancelled`` aborts the matching exchange here, or (none here) is forwarded to
  the other replicas through the run store; then it goes on to the SDK (202). The
  ``Mcp-Session-Id`` minted for each handshake tells apart clients that reuse request ids;
- a GET (the standalone event stream of a handshake-era client) gets 405: a stateless server has
  nothing to send on it, and the SDK would hold it open, idle, for the client's whole life;
- once shutdown has begun, a new ``qwen_code_interpreter`` call gets 503 with a JSON-RPC error
  saying to call again, and so does a request whose body is still coming when the server exits.
  These are the only 503s the gate sends, and they are sent before the request reaches the tool:
  nothing was started, so a balancer may send it to another replica. The result tool and every
  other request are still served.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.types import INVALID_REQUEST, PARSE_ERROR
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._constants import TOOL_NAME
from .._requests import current_exchange
from .._texts import SHUTDOWN_ERROR_MESSAGE
from .cancels import Exchanges, principal_of

__all__ = ["SHUTDOWN_ERROR_CODE", "CallGate"]

logger = logging.getLogger("mcp_server")

_SESSION_HEADER = b"mcp-session-id"
#: JSON-RPC error code of the answer to a request that arrives while the server shuts down.
SHUTDOWN_ERROR_CODE = -32000
_TOO_DEEP_MESSAGE = "The request body is JSON nested too deeply to parse; send a flatter JSON-RPC message."
_NO_STREAM_MESSAGE = "This server offers no standalone event stream (GET): every POST is answered on its own stream."


class _TooDeep(Exception):
    """The body's JSON is nested deeper than the parser goes."""


class _Replay:
    """A ``receive`` for the app: the body read ahead, then the client's disconnect when it comes."""

    def __init__(self, messages: list[Message], receive: Receive, complete: bool) -> None:
        self._messages = messages
        self._receive = receive
        self._complete = complete
        self.disconnected = anyio.Event()

    async def __call__(self) -> Message:
        if self._messages:
            return self._messages.pop(0)
        if not self._complete:
            return await self._receive()
        await self.disconnected.wait()
        return {"type": "http.disconnect"}


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request messages up to the end of the body, and whether the body ended within *limit*."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > limit:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


def _decode(messages: list[Message]) -> dict[str, Any] | None:
    try:
        decoded = json.loads(b"".join(m.get("body", b"") for m in messages))
    except ValueError:  # not JSON (or not UTF-8): the SDK answers it
        return None
    except RecursionError:  # the SDK's parser would fail the same way, with a traceback and a 500
        raise _TooDeep from None
    return decoded if isinstance(decoded, dict) else None


def _is_new_call(message: dict[str, Any]) -> bool:
    """A ``tools/call`` of the tool that starts (and bills) a run."""
    params = message.get("params")
    return message.get("method") == "tools/call" and isinstance(params, dict) and params.get("name") == TOOL_NAME


def _header(scope: Scope, wanted: bytes) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value)
    return b""


def _with_session_id(send: Send, session_id: bytes) -> Send:
    """*send*, adding ``Mcp-Session-Id`` to the response (when the SDK set none)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == _SESSION_HEADER for name, _ in headers):
                headers.append((_SESSION_HEADER, session_id))
            message = {**message, "headers": headers}
        await send(message)

    return sending


class CallGate:
    """ASGI middleware; *ready* says whether new requests are taken (false while shutting down)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        exchanges: Exchanges,
        ready: Callable[[], bool],
        body_limit: int,
        path: str,
        forward_cancel: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.exchanges = exchanges
        self.ready = ready
        self.body_limit = body_limit
        self.forward_cancel = forward_cancel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == self.path:
            # A stateless server never sends anything on a standalone stream: the SDK would hold it
            # open, idle, for as long as the client lives (a legacy client opens one once it has a
            # session id, and it takes a connection from the client's pool).
            await _answer(send, 405, None, INVALID_REQUEST, _NO_STREAM_MESSAGE)
            return
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        with self.exchanges.reading() as reading:
            messages, complete = await _read_body(receive, self.body_limit)
        if reading.cancelled_caught:  # the server exits: the rest of the body is not waited for
            await _answer(send, 503, None, SHUTDOWN_ERROR_CODE, SHUTDOWN_ERROR_MESSAGE)
            return
        replay = _Replay(messages, receive, complete)
        try:
            message = _decode(messages) if complete else None
        except _TooDeep:
            await _answer(send, 400, None, PARSE_ERROR, _TOO_DEEP_MESSAGE)
            return
        method = message.get("method") if message is not None else None
        if message is None or not isinstance(method, str):
            await self.app(scope, replay, send)
            return
        # A stateless server keeps no sessions, but a handshake-era client sends back the session id
        # its `initialize` was answered with on every later POST, its cancel notifications
        # included: minted here, it tells apart two clients' calls that use the same request id.
        principal = principal_of(_header(scope, b"authorization") + b"\n" + _header(scope, _SESSION_HEADER))
        if method == "initialize":
            send = _with_session_id(send, secrets.token_urlsafe(24).encode())
        if "id" not in message:
            if method == "notifications/cancelled":
                params = message.get("params")
                request_id = params.get("requestId") if isinstance(params, dict) else None
                if request_id is not None:
                    found = self.exchanges.cancel(principal, request_id, "the client cancelled the call")
                    if found == 1:
                        logger.info("cancelled request %r on the client's notification", request_id)
                    elif found == 0 and self.forward_cancel is not None:
                        await self.forward_cancel(principal, str(request_id))
            await self.app(scope, replay, send)
            return
        # Only new runs are refused: a client whose call is being delivered may still list the
        # tools (the Python client does, to check the result against the output schema), and a
        # client with a handle may still collect its result.
        if _is_new_call(message) and not self.ready():
            await _answer(send, 503, message.get("id"), SHUTDOWN_ERROR_CODE, SHUTDOWN_ERROR_MESSAGE)
            return
        with self.exchanges.open(principal, message.get("id"), admitted=_is_new_call(message)) as exchange:
            token = current_exchange.set(exchange)
            try:
                async with anyio.create_task_group() as tg:

                    async def watch() -> None:
                        while (await receive())["type"] != "http.disconnect":
                            pass
                        exchange.abort("the client disconnected")
                        replay.disconnected.set()

                    tg.start_soon(watch)
                    await self.app(scope, replay, send)
                    tg.cancel_scope.cancel()
            finally:
                current_exchange.reset(token)


async def _answer(send: Send, status: int, request_id: Any, code: int, text: str) -> None:
    """A JSON-RPC error as the whole response, with *status*; a 503 also says when to try again,
    a 405 which method is allowed."""
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if status == 503:
        headers.append((b"retry-after", b"1"))
    if status == 405:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
