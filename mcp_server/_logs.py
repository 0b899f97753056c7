"""Server log lines on stderr: plain text, or one JSON object a line for log shippers.

Every line inside an HTTP request carries the client's name and the request id (from the context
of the call, see ``_ops``). Secrets - the API key and every bearer token - are masked in the
final text of every line, whatever logged them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["CALL_FIELDS", "LOG_FORMATS", "JSONFormatter", "Redactor", "configure_logging"]

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Fields a call's summary line carries (``extra=``); the JSON format lifts them to the top level.
CALL_FIELDS = ("outcome", "error", "duration_s", "tokens", "upstream_request_id", "run_id")
MASK = "**********"


class Redactor:
    """Masks the strings no log line may show: fixed ones (the API key) and those *current* returns
    at the time of each line (the bearer tokens, which change when the token file is reloaded)."""

    def __init__(self, fixed: Iterable[str] = (), current: Callable[[], Iterable[str]] | None = None) -> None:
        self._fixed = list(fixed)  # an empty one is skipped where lines are masked
        self._current = current

    def __call__(self, text: str) -> str:
        secrets = [*self._fixed, *(self._current() if self._current is not None else ())]
        # Longest first, so that a secret containing another is masked whole.
        for secret in sorted(secrets, key=len, reverse=True):
            if secret and secret in text:
                text = text.replace(secret, MASK)
        return text


class _Redacting(logging.Formatter):
    def __init__(self, redact: Callable[[str], str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JSONFormatter(_Redacting):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, client, request_id,
    and for a call's summary line outcome, error, duration_s, tokens, upstream_request_id."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"
        entry: dict[str, Any] = {
            "time": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "client": getattr(record, "client", None),
            "request_id": getattr(record, "request_id", None),
        }
        for name in CALL_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(
    level: str, log_format: str, redact: Callable[[str], str], context: logging.Filter | None = None
) -> None:
    """Root logging to stderr (stdout is the stdio protocol channel), in *log_format*, secrets masked.

    Set before the server is built, so the SDK's own logging set-up (rich, wrapped lines) leaves it alone.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter(redact) if log_format == "json" else _Redacting(redact, TEXT_FORMAT))
    if context is not None:
        handler.addFilter(context)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One line per upstream HTTP request would drown the server's own lines; so would the SDK's
    # "Terminating session: None" at the end of every stateless HTTP request (its only INFO line).
    for noisy in ("httpx", "mcp.server.streamable_http"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
