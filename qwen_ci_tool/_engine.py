"""Everything a call decides, without doing any I/O: shared by the sync and async clients.

The clients are thin loops inside ``with state.telemetry:`` (the call's span and metrics,
:mod:`~qwen_ci_tool._telemetry`): send ``state.request``, hand status and headers to
:meth:`CallState.check_response`, each chunk of bytes to :meth:`CallState.feed`, the end of the
body to :meth:`CallState.finish`, and any exception to :meth:`CallState.after_failure` (the wait
before the next attempt, or the error to raise). Decisions (retry or not, which error, what counts
as complete) live here, once; what the wire reports bare (a decoder's :class:`WireFailure`, the SSE
parser's protocol error) is worded here, with what the call knows (:mod:`~qwen_ci_tool._errors`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from . import _constants as C
from . import _errors as E
from ._accumulator import Accumulator
from ._classify import json_object, rate_limit_wait, read_body, read_failure
from ._errors import ErrorContext
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ProtocolError,
    QwenCIError,
    RateLimitError,
)
from ._protocols import PROTOCOLS, Decoder
from ._protocols._base import MalformedJSON, WireFailure
from ._result import CodeInterpreterResult, Completed, StreamEvent
from ._settings import Settings
from ._sse import SSEParser
from ._telemetry import CallTelemetry
from ._types import AnswerDelta, CodeRunUpdated, ReasoningDelta, SSEEvent, Timings

__all__ = ["CallState", "Recorder"]

logger = logging.getLogger("qwen_ci_tool")

_CONTENT_EVENTS = (ReasoningDelta, AnswerDelta, CodeRunUpdated)


class Recorder(Protocol):
    def write(self, data: bytes, /) -> Any: ...


#: A frame whose JSON has an unexpected shape (a list where an object belongs, ...) surfaces
#: as one of these from the decoders; it is the service's fault, so it becomes a ProtocolError.
_SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


class CallState:
    """One call: request, attempts, parsing, accumulation, deadlines and error decisions."""

    def __init__(
        self,
        settings: Settings,
        messages: list[dict[str, Any]],
        *,
        record: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_rate_limits: bool = True,
    ) -> None:
        if settings.api_key is None:
            raise E.missing_key_error()
        self.settings = settings
        self.protocol = PROTOCOLS[settings.protocol]
        self.request = self.protocol.build_request(settings, messages)
        self.context = ErrorContext(
            base_url=settings.base_url,
            model=settings.model,
            protocol=settings.protocol,
            custom_base_url=settings.custom_base_url,
            key_source=settings.key_source,
        )
        self._record = record
        self._clock = clock
        #: False in a batch: the batch's limiter owns rate limits (it re-queues the task and paces
        #: every start), so a 429 here ends the attempt at once instead of waiting inside the call.
        self.retry_rate_limits = retry_rate_limits
        self.started_at = clock()
        self.deadline = self.started_at + settings.total_timeout
        self.attempt = 0
        self.committed = False
        self.result: CodeInterpreterResult | None = None
        self.telemetry = CallTelemetry(settings.model, settings.base_url, messages, clock)
        self._fresh()

    def _fresh(self) -> None:
        """Per-attempt state, from a clean slate."""
        self.done = False
        self.first_event_at: float | None = None
        self._parser = SSEParser()
        self._decoder: Decoder | None = None
        self._header_rid: str | None = None
        self._pending: list[StreamEvent] = []
        self._unrecorded: list[bytes] = []
        self.acc = Accumulator(model=self.settings.model, protocol=self.settings.protocol)

    # --- attempts and time ----------------------------------------------------------------

    def begin_attempt(self) -> None:
        """Start (or restart, before anything was committed) an attempt from a clean slate."""
        self.attempt += 1
        self._fresh()
        logger.debug("qwen_ci_tool: POST %s model=%s attempt=%d", self.request.url, self.settings.model, self.attempt)

    def remaining(self) -> float:
        return self.deadline - self._clock()

    def expired(self) -> bool:
        return self._clock() >= self.deadline

    def timeout(self) -> httpx.Timeout:
        s = self.settings
        left = max(self.remaining(), 0.001)
        connect = min(s.connect_timeout, left)
        return httpx.Timeout(connect=connect, read=min(s.idle_timeout, left), write=connect, pool=connect)

    def timeout_error(self, kind: str) -> APITimeoutError:
        s = self.settings
        seconds = {"connect": s.connect_timeout, "idle": s.idle_timeout}.get(kind, s.total_timeout)
        return E.timeout_error(kind, base_url=s.base_url, seconds=seconds)

    # --- the response ---------------------------------------------------------------------

    def check_response(self, status: int, headers: httpx.Headers) -> bool:
        """True when the body is an event stream to feed; False when it is an error body to read."""
        self._header_rid = headers.get("x-request-id") or headers.get("x-dashscope-request-id")
        logger.debug("qwen_ci_tool: HTTP %d request_id=%s", status, self._header_rid)
        if status >= 300 or "text/event-stream" not in headers.get("content-type", ""):
            return False
        self._decoder = self.protocol.decoder(self.settings.model, self._header_rid)
        return True

    def response_error(self, status: int, headers: httpx.Headers, body: bytes) -> QwenCIError:
        """The error for a non-stream reply (any status), whose body was read (capped)."""
        content_type = headers.get("content-type", "")
        if status >= 300:
            failure = read_body(status, body, content_type=content_type, request_id=self._header_rid)
            return E.service_error(failure, rate_limit_wait(headers), self.context)
        # A 2xx that is not an event stream: a JSON error (the Responses API reports a rate limit
        # as HTTP 200 with status "failed"), or something that is not the service at all.
        data = json_object(body)
        if data is not None and (data.get("status") == "failed" or data.get("code") or "error" in data):
            failure = read_failure(data, request_id=self._header_rid)
            return E.service_error(failure, rate_limit_wait(headers), self.context)
        return E.not_an_event_stream_error(content_type, status, self._header_rid)

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Bytes in, events out (only once content has begun; see :meth:`_commit`)."""
        if self._record is not None:
            if self.committed:
                self._record.write(chunk)
            else:
                # Held until this attempt commits: a retried attempt leaves nothing in the recording.
                self._unrecorded.append(chunk)
        out = self._decode(self._parser.feed, chunk)
        assert self._decoder is not None
        self.done = self._decoder.done
        if out and not self.committed:
            return self._commit(out)
        return out

    def _decode(self, parse: Callable[[bytes], list[SSEEvent]], chunk: bytes) -> list[StreamEvent]:
        """Parse, decode and accumulate; what the wire reported bare is worded here, with the context."""
        decoder = self._decoder
        assert decoder is not None
        apply = self.acc.apply
        out: list[StreamEvent] = []
        try:
            for sse in parse(chunk):
                events = decoder.decode(sse)
                for event in events:
                    apply(event)
                out += events
        except WireFailure as failure:
            raise self._failure(failure) from None
        except MalformedJSON as bad:
            raise E.malformed_json_error(bad.why, bad.snippet) from None
        except ProtocolError as err:  # the SSE parser's bare error
            raise E.worded(err) from None
        except _SHAPE_ERRORS as exc:
            raise E.shape_error(exc) from None
        return out

    def _failure(self, wire: WireFailure) -> QwenCIError:
        if wire.failed_response:
            assert isinstance(wire.body, dict)
            failure = read_failure(wire.body, status=wire.status, request_id=self._header_rid)
        else:
            failure = read_body(wire.status or 400, wire.body, request_id=self._header_rid)
        return E.service_error(failure, context=self.context)

    def _commit(self, events: list[StreamEvent]) -> list[StreamEvent]:
        # Metadata (stream started, usage) is held back until the first content event: until
        # then a failure can still be retried without the caller having seen anything.
        if self.first_event_at is None:
            self.first_event_at = self._clock()
        self._pending += events
        if any(isinstance(e, _CONTENT_EVENTS) for e in events):
            self.committed = True
            self._flush_record()
            events, self._pending = self._pending, []
            return events
        return []

    def _flush_record(self) -> None:
        if self._record is not None:
            for chunk in self._unrecorded:
                self._record.write(chunk)
        self._unrecorded = []

    def finish(self) -> list[StreamEvent]:
        """End of body: the last events and :class:`Completed`, or the error saying what broke."""
        decoder = self._decoder
        assert decoder is not None
        self._flush_record()
        tail = self._decode(lambda _: self._parser.close(), b"")
        if tail and not self.committed:
            tail = self._commit(tail)
        if self.expired():
            raise self.timeout_error("total")
        if self.first_event_at is None:
            raise E.empty_stream_error(self._header_rid)
        if decoder.finish_reason is None:
            raise E.ended_early_error(self.acc.request_id or self._header_rid)
        if not self.protocol.ends_at_eof and not decoder.done:
            # Chat Completions sends the usage chunk and [DONE] after the finish reason: without
            # them the connection closed early and what the call cost was lost.
            raise E.ended_before_usage_error(
                decoder.finish_reason, self.settings.protocol, self.acc.request_id or self._header_rid
            )
        result = self.acc.build(finish_reason=decoder.finish_reason, timings=self._timings())
        self.result = result
        self.telemetry.completed(result)
        logger.debug(
            "qwen_ci_tool: done request_id=%s finish=%s tokens=%d",
            result.request_id,
            result.finish_reason,
            result.usage.total_tokens,
        )
        events, self._pending = [*self._pending, *tail, Completed(result)], []
        return events

    def _timings(self) -> Timings:
        first = None if self.first_event_at is None else self.first_event_at - self.started_at
        return Timings(time_to_first_event=first, total_time=self._clock() - self.started_at)

    def snapshot(self) -> CodeInterpreterResult:
        """The result as far as it got, marked incomplete."""
        finish = self._decoder.finish_reason if self._decoder is not None else None
        return self.acc.build(finish_reason=finish, timings=self._timings(), status="incomplete")

    # --- failures -------------------------------------------------------------------------

    def translate(self, exc: Exception) -> QwenCIError | None:
        """Our error for *exc* (``None`` for exceptions that are bugs, not failures: re-raise those)."""
        err: QwenCIError
        if isinstance(exc, QwenCIError):
            err = exc
        elif isinstance(exc, httpx.TimeoutException):
            kind = (
                "connect" if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout)) else "idle"
            )
            err = self.timeout_error("total" if self.expired() else kind)
        elif self.expired() and isinstance(exc, httpx.TransportError):
            # The total-deadline watchdog shut the socket: report the deadline, not the symptom.
            err = self.timeout_error("total")
        elif isinstance(exc, httpx.ConnectError):
            err = E.connect_error(exc, self.settings.base_url)
        elif isinstance(exc, (httpx.TransportError, httpx.StreamError)):
            # Only content commits: a drop after metadata alone (request id, usage) is still retried.
            err = E.broken_connection_error(exc, self.settings.base_url, started=self.committed)
        else:
            return None
        if err.request_id is None:
            err.request_id = self.acc.request_id or self._header_rid
        if err.partial is None and self.committed:
            err.partial = self.snapshot()
        assert self.settings.api_key is not None
        err._redact(self.settings.api_key)
        logger.debug("qwen_ci_tool: %s: %s", type(err).__name__, err.message)
        return err

    def after_failure(self, exc: Exception) -> float:
        """An attempt raised *exc*: seconds to wait before the next attempt, or raise what the
        caller gets (our error for it, or *exc* itself when it is a bug, not a failure)."""
        err = self.translate(exc)
        if err is None:
            raise exc
        delay = self.retry_delay(err)
        if delay is None:
            E.note_attempts(err, self.attempt)
            raise err from (None if err is exc else exc)
        self.telemetry.retry(err, self.attempt, delay)
        return delay

    def retry_delay(self, err: QwenCIError) -> float | None:
        """Seconds to wait before the next attempt, or None: do not retry (*err* is final).

        Only a retryable error (:attr:`QwenCIError.retryable`) from before the stream began is
        retried: a status error or a failed connection. An idle or total timeout already spent its
        time, and a stream that broke or was malformed is the caller's to retry.
        """
        if self.committed or self.attempt > self.settings.max_retries or not err.retryable:
            return None
        if not isinstance(err, (APIStatusError, APIConnectionError)):
            return None
        if isinstance(err, RateLimitError) and not self.retry_rate_limits:
            return None
        if isinstance(err, APITimeoutError) and err.kind != "connect":
            return None
        retry_after = err.retry_after if isinstance(err, APIStatusError) else None
        if retry_after is not None:
            if retry_after > C.MAX_RETRY_AFTER:
                return None
            delay = retry_after
        else:
            delay = min(C.INITIAL_RETRY_DELAY * 2 ** (self.attempt - 1), C.MAX_RETRY_DELAY)
            delay *= 1 - 0.25 * random.random()
        if delay >= self.remaining():
            return None
        logger.debug("qwen_ci_tool: retrying in %.2f s after %s", delay, type(err).__name__)
        return delay
