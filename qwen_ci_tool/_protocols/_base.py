"""What every wire protocol provides."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .._types import DecodedEvent, SSEEvent, StreamStarted, Usage
from .._version import __version__

if TYPE_CHECKING:
    from .._settings import Settings

USER_AGENT = f"qwen-ci-tool/{__version__}"


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One HTTP request, ready to send. ``headers`` holds the key: never log or record it."""

    url: str
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"RequestSpec(url={self.url!r}, body={len(self.body)} bytes)"


class WireFailure(Exception):
    """A failure the stream itself reported (an error frame, a failed response), as the wire carried
    it: the engine reads it (:mod:`qwen_ci_tool._classify`) and words it (:mod:`qwen_ci_tool._errors`),
    knowing where it sent what.

    ``status``: the in-band HTTP status, if any; ``body``: the frame's JSON object (or ``b""``);
    ``failed_response``: a Responses ``response.failed`` / ``error`` event, whose status is inferred.
    """

    def __init__(self, status: int | None, body: dict[str, Any] | bytes, *, failed_response: bool = False) -> None:
        self.status = status
        self.body = body
        self.failed_response = failed_response


class MalformedJSON(Exception):
    """A frame's data was not JSON: why, and the start of it (the engine words it)."""

    def __init__(self, why: str, snippet: str) -> None:
        self.why = why
        self.snippet = snippet


class Decoder(Protocol):
    """Turns one parsed SSE event into typed events; raises :class:`WireFailure` for error frames."""

    #: The finish reason once the service said it ("stop", "length", ...), else None.
    finish_reason: str | None
    #: True once the protocol's own end marker arrived ([DONE], response.completed, ...).
    done: bool

    def decode(self, sse: SSEEvent) -> list[DecodedEvent]: ...


class WireProtocol(Protocol):
    #: The name callers pass as ``protocol=`` (and ``--protocol``).
    name: str
    #: Whether results carry the code the interpreter ran.
    returns_code: bool
    #: Whether results carry what that code printed.
    returns_output: bool
    #: Whether a stream that ends (EOF) after a finish reason is complete without an end marker.
    ends_at_eof: bool

    def build_request(self, settings: Settings, messages: list[dict[str, Any]]) -> RequestSpec: ...

    def decoder(self, model: str, header_request_id: str | None) -> Decoder: ...


def post(
    settings: Settings, path: str, headers: dict[str, str] | None = None, into: str = "", **fields: Any
) -> RequestSpec:
    """The request to *path*: a body of the model and *fields*, with the caller's ``extra_parameters``
    on top (of the field named *into*, else of the body), and the headers every protocol sends
    (the key, the workspace) plus *headers*."""
    body = {"model": settings.model, **fields}
    (body[into] if into else body).update(settings.extra_parameters)
    sent = {"Accept": "text/event-stream", "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if settings.api_key is not None:
        sent["Authorization"] = "Bearer " + settings.api_key.get_secret_value()
    if settings.workspace:
        sent["X-DashScope-WorkSpace"] = settings.workspace
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return RequestSpec(settings.base_url + path, {**sent, **(headers or {})}, data)


_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads uses


def loads(data: bytes) -> Any:
    """``json.loads(data)``, minus work an SSE payload never needs; malformed data is :class:`MalformedJSON`.

    ``json.loads`` on bytes sniffs the encoding, decodes, then runs the scanner between two regex
    matches for surrounding whitespace. A payload that starts with ``{"`` is UTF-8 by that same sniff
    (RFC 8259's rule), so it is decoded as ``json.loads`` would and scanned directly; anything else
    (whitespace around the object, bad bytes, bad JSON) takes the ordinary path, which gives the
    same value or the same error.
    """
    if data[:2] == b'{"':
        try:
            text = data.decode("utf-8", "surrogatepass")
            obj, end = _scan(text, 0)
        except (ValueError, StopIteration):
            pass
        else:
            if end == len(text):
                return obj
    try:
        return json.loads(data)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8
        snippet = data[:120].decode("utf-8", "replace")
        why = f"{exc.msg} at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise MalformedJSON(why, snippet) from None


class DecoderBase:
    """State every decoder keeps: where errors point, whether the stream started, how it ended."""

    __slots__ = ("_header_rid", "_model", "_started", "done", "finish_reason")

    def __init__(self, model: str, header_request_id: str | None) -> None:
        self._model = model
        self._header_rid = header_request_id
        self._started = False
        self.finish_reason: str | None = None
        self.done = False

    def _status_failure(self, sse: SSEEvent) -> WireFailure | None:
        """The failure of a frame whose in-band status says failure but whose data is no JSON object (none,
        text, a bare value): that status, the data read as an error reply's body. The status is the
        service's (or its gateway's) word, whatever the data's shape; a frame with an object is each
        protocol's to read. None for a frame with an object."""
        try:
            obj = loads(sse.data) if sse.data.strip() else None
        except MalformedJSON:
            obj = None
        return None if isinstance(obj, dict) else WireFailure(sse.status, sse.data)

    def _object(self, data: bytes) -> dict[str, Any] | None:
        """The event's JSON object; None for the ``[DONE]`` end marker (which sets ``done``) and for
        a payload that is not an object (ignored, for forward compatibility)."""
        if data == b"[DONE]":
            self.done = True
            return None
        obj = loads(data)
        return obj if isinstance(obj, dict) else None

    def _start(self, request_id: Any, protocol: str) -> StreamStarted:
        self._started = True
        rid = request_id if isinstance(request_id, str) and request_id else self._header_rid
        return StreamStarted(rid, self._model, protocol)


def count(value: Any) -> int:
    """A token count as an int (0 for anything that is not a non-negative int)."""
    return value if type(value) is int and value >= 0 else 0


def usage_of(raw: dict[str, Any], tools: str = "", *, chat: bool = False) -> Usage:
    """A usage object as sent: ``input_tokens`` / ``output_tokens`` / ``output_tokens_details`` (Chat
    Completions: ``prompt_...`` / ``completion_...``); the interpreter's calls in ``raw[tools]``."""
    given, made = ("prompt", "completion") if chat else ("input", "output")
    details = raw.get(f"{made}_tokens_details") or {}
    interpreter = ((raw.get(tools) or {}) if tools else {}).get("code_interpreter") or {}
    return Usage(
        input_tokens=count(raw.get(f"{given}_tokens")),
        output_tokens=count(raw.get(f"{made}_tokens")),
        reasoning_tokens=count(details.get("reasoning_tokens")),
        total_tokens=count(raw.get("total_tokens")),
        code_interpreter_calls=count(interpreter.get("count")),
    )


def text_of(content: Any) -> str:
    """Content as text: a string, or a list of ``{"text": ...}`` parts (``[]`` is empty); else ''."""
    if type(content) is str:
        return content
    if isinstance(content, list):
        return "".join(t for part in content if isinstance(part, dict) and isinstance(t := part.get("text"), str))
    return ""
