"""The voice: every failure message, in one place - what happened, and (apart) what to do.

:mod:`._classify` decides what a failure is; the functions here word it. Hints name settings by
placeholder (``{idle_timeout}``, ``{region:singapore}``, see :mod:`._knobs`), so each face names its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import _constants as C
from . import _exceptions as X
from ._classify import ServiceFailure, class_for, connection_kind, exception_chain
from ._constants import REGION_ROOTS
from ._model_table import known_model_names, lookup_model, ordered

__all__ = [
    "ErrorContext",
    "broken_connection_error",
    "connect_error",
    "empty_stream_error",
    "ended_early_error",
    "malformed_json_error",
    "missing_key_error",
    "not_an_event_stream_error",
    "note_attempts",
    "protocol_hint",
    "proxy_unusable_error",
    "service_error",
    "shape_error",
    "status_error",
    "timeout_error",
    "worded",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorContext:
    """What the client knows that makes a hint precise: where it sent what."""

    base_url: str
    model: str
    protocol: str
    #: base_url was chosen (argument or environment): it overrides the region, so a hint names it.
    custom_base_url: bool = False
    #: Where the key came from (``Settings.key_source``), so that a hint about the key names that place.
    key_source: str | None = None


def _lit(text: str) -> str:
    """*text* inside a hint template, where braces name settings."""
    return text.replace("{", "{{").replace("}", "}}")


def protocol_hint(model: str, protocol: str) -> str | None:
    """What the model table says about *model* over *protocol* when the documents do not show the
    pair: the protocol(s) they show the interpreter with, as a hint template (see
    :mod:`qwen_ci_tool._knobs`); ``None`` when the table has nothing better to offer."""
    info = lookup_model(model)
    if not info.known or protocol in info.protocols:
        return None
    agreed = ordered(info.protocols)
    shown = ", ".join(f"`{p}`" for p in agreed)
    text = (
        f"Model {_lit(repr(model))} is documented for the code interpreter over {shown}: try {{protocol:{agreed[0]}}}."
    )
    if protocol in info.disputed:
        text += f" (The documents disagree about {protocol!r}: {_lit(info.disagreement)}.)"
    return text


def _native_path_hint(model: str) -> str:
    """The native protocol answered "url error": the model is served on its other path."""
    info = lookup_model(model)
    how = "the model table's row" if info.known else "a guess from the name: it is not in the model table"
    return (
        f"The native protocol has two paths and {_lit(repr(model))} was sent to {info.native_endpoint} ({how}); "
        "the service serves it on the other one. Use {protocol:responses} or {protocol:openai} for this "
        "model, and report the name so the table can learn it."
    )


def key_place(source: str | None) -> str:
    """Where the key came from (``Settings.key_source``), as a hint template: the face's usual
    place (``{api_key}``) unless it came from an argument, another variable, or a file."""
    if source in (None, C.ENV_API_KEY):
        return "{api_key}"
    if source == "api_key":
        return "{api_key:argument}"
    if source == C.ENV_API_KEY_FILE:
        return f"the file that {C.ENV_API_KEY_FILE} names"
    return f"the {source} environment variable"


def _key_hint(ctx: ErrorContext | None) -> str:
    check = f"Check the API key in {key_place(ctx.key_source if ctx else None)}."
    if ctx is None:
        return check
    # Where the request went decides (a chosen base_url overrides the region, so never the region).
    other = "beijing" if ctx.base_url == REGION_ROOTS["singapore"] else "singapore"
    if not ctx.custom_base_url:
        return (
            f"{check} Keys are per region: this request went to {_lit(ctx.base_url)}; a key from the "
            f"{other.capitalize()} region needs {{region:{other}}}."
        )
    if ctx.base_url in REGION_ROOTS.values():
        return (
            f"{check} Keys are per region: this request went to {_lit(ctx.base_url)} ({{base_url}}); a key "
            f"from the {other.capitalize()} region needs {{base_url:{REGION_ROOTS[other]}}}."
        )
    return f"{check} Keys are per region and workspace: use a key that {_lit(ctx.base_url)} ({{base_url}}) accepts."


#: What to do about the codes that are not transient whatever their status (``PERMANENT_CODES``).
_PERMANENT_HINTS = {
    "Arrearage": "The Model Studio account is in arrears (overdue: top it up in the Alibaba Cloud console): "
    "calling again will not help until then.",
    "insufficient_quota": "The quota is used up: calling again will not help. Add quota or billing in the Model "
    "Studio console, or set another key in {api_key}.",
    "Throttling.AllocationQuota": "The token plan's quota is used up: calling again will not help until it resets "
    "(the service's message gives the time when it sent one). Add quota in the Model Studio console, or set "
    "another key in {api_key}.",
}
#: What to do about a class of error, whatever the model and the request.
_CLASS_HINTS: dict[type[X.APIStatusError], str] = {
    X.RateLimitError: "Rate or quota limit reached: wait and retry, lower the number of concurrent calls, or raise "
    "{max_retries}.",
    X.ContentFilterError: "Content moderation rejected the input or the answer: rephrase the question; the same "
    "text is refused again.",
    X.InternalServerError: "The service failed on its side; retry later.",
}


def _hint(cls: type[X.APIStatusError], status: int, code: str | None, ctx: ErrorContext | None) -> str:
    if code in _PERMANENT_HINTS:
        return _PERMANENT_HINTS[code]
    advice = protocol_hint(ctx.model, ctx.protocol) if ctx is not None else None
    if cls is X.AuthenticationError:
        if code and code.startswith(("AccessDenied", "Model.AccessDenied")):
            # Model.AccessDenied: the key was accepted, the account may not use the model (any protocol).
            if code != "Model.AccessDenied" and advice:
                return advice
            return (
                f"The key has no access to model {_lit(repr(ctx.model))} or to the code interpreter: "
                "enable the model for this key/workspace in the Model Studio console, or choose another model ({model})."
                if ctx
                else "The key has no access to this model or feature."
            )
        return _key_hint(ctx)
    if cls in _CLASS_HINTS:
        return _CLASS_HINTS[cls]
    if advice:  # a BadRequestError from here on
        return advice
    if code in ("Model.NotExist", "model_not_found") or status == 404:
        known = ", ".join(known_model_names(ctx.protocol if ctx else None))
        model = f" {_lit(repr(ctx.model))}" if ctx else ""
        region = f" at {_lit(ctx.base_url)}" if ctx else ""
        return f"The model{model} does not exist{region}: choose another model ({{model}}). Known models with the code interpreter: {known}."
    if ctx is not None:
        return (
            f"The service refused the request for model {_lit(repr(ctx.model))} over protocol {ctx.protocol!r}. "
            "The code interpreter needs a model that supports it (see the README's model table; {model} "
            "and {protocol} choose them), thinking mode and streaming; qwen3-max-preview is the model of the "
            "original release."
        )
    return "The service refused the request: check {model} and the parameters."


def status_error(
    status: int,
    code: str | None,
    message: str | None,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    context: ErrorContext | None = None,
) -> X.APIStatusError:
    """The right :class:`APIStatusError` subclass: what the service said, and what to do."""
    return service_error(ServiceFailure(status, code, message, request_id), retry_after, context)


def service_error(
    failure: ServiceFailure, retry_after: float | None = None, context: ErrorContext | None = None
) -> X.APIStatusError:
    """The error for what the service said (an error body or an error event that
    :mod:`._classify` read), in words. A failure ``in_band`` came inside an HTTP 200 reply and its
    status was inferred: the message does not claim the service answered with that status."""
    status, code, message, in_band = failure.status, failure.code, failure.message, failure.in_band
    cls = class_for(status, code, message)
    what = message.strip().rstrip(".") if message else "no message"
    where = "inside an HTTP 200 reply" if in_band else f"HTTP {status}"
    label = f"{code}, {where}" if code else where
    text = f"The service returned an error ({label}): {what}."
    hint = _hint(cls, status, code, context)
    if cls is X.BadRequestError and context and context.protocol == "dashscope" and "url error" in (message or ""):
        hint = _native_path_hint(context.model)  # the text-generation/multimodal path did not match
    if retry_after is not None:  # a 429 or a 503 (overloaded) that said when to come back
        text += f" The service asked to wait {retry_after:g} s."
    return cls(
        text,
        status_code=status,
        code=code,
        service_message=message,
        hint=hint,
        request_id=failure.request_id,
        retry_after=retry_after,
    )


# --- failures the client sees itself (no error body) ------------------------------------------


#: The note :func:`note_attempts` ends a message with (recognised there, so it is never added twice).
_ATTEMPTS_NOTE = re.compile(r" Gave up after \d+ attempts\.\Z")


def note_attempts(err: X.QwenCIError, attempts: int) -> None:
    """Say in *err* that it is the last of several attempts (the retries were made)."""
    if attempts > 1 and not _ATTEMPTS_NOTE.search(err.message):  # not said yet (a service message may say "attempts")
        stop = "" if err.message.endswith((".", "!", "?")) else "."  # the note is a sentence of its own
        err.message = f"{err.message}{stop} Gave up after {attempts} attempts."
        err.args = (err.message,)


def missing_key_error() -> X.ConfigurationError:
    return X.ConfigurationError("No API key.", hint="Set {api_key} to a Model Studio key.{emulator}")


def timeout_error(kind: str, *, base_url: str, seconds: float) -> X.APITimeoutError:
    """``kind`` is "connect", "idle" or "total"; ``seconds`` the limit that fired."""
    if kind == "connect":
        what = f"Could not connect to {base_url} within {seconds:g} s (the connect timeout)."
        hint = "Check the network, proxy settings and {base_url}, or raise {connect_timeout}."
    elif kind == "idle":
        what = f"No data from the service for {seconds:g} s (the idle timeout)."
        hint = "The remote code may still be running: raise {idle_timeout} for long computations, or ask for less work."
    else:
        what = f"The call took longer than {seconds:g} s (the total timeout) and was stopped."
        hint = "Raise {total_timeout} or ask for less work."
    return X.APITimeoutError(what, kind=kind, hint=hint)


def _text_of(exc: BaseException) -> str:
    """What an exception says, or its type's name when it says nothing (``httpx.ConnectError("")``)."""
    return str(exc) or type(exc).__name__


def connect_error(exc: BaseException, base_url: str) -> X.APIConnectionError:
    """The connection could not be made: TLS, DNS, refused, or something else, each with its fix."""
    chain = exception_chain(exc)
    kind = connection_kind(chain)
    if kind == "tls":
        # A certificate that does not verify fails the same way on every call.
        return X.APIConnectionError(
            f"The TLS handshake with {base_url} failed ({chain[0]}).",
            hint="Check the system's CA certificates (SSL_CERT_FILE), any TLS-inspecting proxy, and the scheme of {base_url}.",
            retryable=False,
        )
    if kind == "dns":
        what, hint = f"Could not resolve the host of {base_url}.", "Check {base_url}, DNS and proxy settings."
    elif kind == "refused":
        what = f"Could not connect to {base_url}: connection refused."
        hint = "Check {base_url} (and that the emulator runs, if you use one)."
    else:
        what = f"Could not connect to {base_url} ({_text_of(chain[0])})."
        hint = "Check the network, the proxy and {base_url}."
    return X.APIConnectionError(what, hint=hint)


def broken_connection_error(exc: BaseException, base_url: str, *, started: bool) -> X.QwenCIError:
    """The connection broke: mid-stream (what arrived is kept) or before any content."""
    why = _text_of(exc)
    if started:
        return X.StreamInterruptedError(
            f"The connection broke in the middle of the stream ({why}). What arrived so far is kept as a partial result.",
            hint="Retry for a full answer.",
        )
    return X.APIConnectionError(
        f"The connection to {base_url} broke before any of the answer arrived ({why}).",
        hint="Retry; check any proxy between you and the service.",
    )


def ended_early_error(request_id: str | None) -> X.StreamInterruptedError:
    return X.StreamInterruptedError(
        "The stream ended before the service finished (no finish reason): the connection was closed "
        "early. What arrived so far is kept as a partial result.",
        hint="Retry for a full answer.",
        request_id=request_id,
    )


def ended_before_usage_error(finish_reason: str, protocol: str, request_id: str | None) -> X.StreamInterruptedError:
    return X.StreamInterruptedError(
        f"The stream ended after the answer (finish reason {finish_reason!r}) but before the end the "
        f"{protocol!r} protocol promises (usage and end marker): the connection was closed early and the "
        "call's usage was lost. The answer is kept as a partial result.",
        hint="Retry for a complete record.",
        request_id=request_id,
    )


def empty_stream_error(request_id: str | None) -> X.ProtocolError:
    return X.ProtocolError(
        "The service answered HTTP 200 with an empty event stream.",
        hint="Retry the call; if it persists, check {base_url} (a proxy may be cutting the stream).",
        request_id=request_id,
    )


def not_an_event_stream_error(content_type: str, status: int, request_id: str | None) -> X.ProtocolError:
    shown = content_type or "no content type"
    return X.ProtocolError(
        f"Expected an event stream (text/event-stream) but got {shown} with HTTP {status}: a proxy or "
        "a wrong base URL answered instead of the service.",
        hint="Check {base_url}.",
        request_id=request_id,
        retryable=False,
    )


def shape_error(exc: Exception) -> X.ProtocolError:
    """A frame whose JSON has an unexpected shape (a list where an object belongs, ...)."""
    return X.ProtocolError(
        f"The stream carried an event of an unexpected shape ({type(exc).__name__}: {exc}): a service or "
        "proxy fault, or a protocol change.",
        hint="Retry, and report it if it persists.",
    )


def malformed_json_error(why: str, snippet: str) -> X.ProtocolError:
    return X.ProtocolError(
        f"The stream carried malformed JSON ({why}): {snippet!r}: a service or proxy fault.",
        hint="Retry the call.",
    )


def worded(err: X.ProtocolError) -> X.ProtocolError:
    """The SSE parser's bare error (a line without end), with what to do."""
    if err.hint is None:
        err.hint = "Check {base_url} (a proxy may be altering the stream)."
    return err


def proxy_unusable_error(variable: str, proxy: str, *, socks: bool) -> X.ConfigurationError:
    """The environment names a proxy httpx cannot use (*proxy* is shown without credentials)."""
    if socks:
        return X.ConfigurationError(
            f"{variable} routes connections through the SOCKS proxy {proxy}, but SOCKS support is not installed.",
            hint="Install it with: pip install 'qwen-ci-tool[socks]' (httpx[socks]); or unset "
            f"{variable}, or set it to an HTTP proxy.",
        )
    return X.ConfigurationError(
        f"{variable} names a proxy of an unsupported kind: {proxy}.",
        hint=f"Set {variable} to an http://, https:// or socks5:// proxy URL, or unset it.",
    )
