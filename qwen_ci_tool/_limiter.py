"""The adaptive concurrency limiter behind ``run_many``: pure, no I/O, time passed in.

It keeps an account's calls under its rate limit the way TCP keeps a link uncongested (AIMD):

- a call that ends in a rate limit (429, ``Throttling*``) halves the concurrency and pauses every
  new start for the ``Retry-After`` the service asked for (or :data:`BATCH_DEFAULT_PAUSE`);
- a burst of 429s from calls that were already in flight when the concurrency was cut counts as
  one signal, not many (each start gets a ticket; only tickets issued after the last cut can cut);
- each success adds ``1 / concurrency``, so about one more call at once per round of successes,
  up to the maximum the caller allowed;
- other failures (5xx, dropped streams, bad requests) neither raise nor cut: they are not a
  verdict on the rate.

Retries of a single call stay in the client's engine (``max_retries``); the limiter decides only
when the next call may start. The sync and async ``run_many`` loops both drive this one object.
"""

from __future__ import annotations

import math
from typing import Literal

from . import _constants as C
from ._exceptions import ConfigurationError

__all__ = ["AdaptiveLimiter", "Signal"]

#: How a call ended, as far as the limiter cares.
Signal = Literal["ok", "rate_limited", "failed"]


class AdaptiveLimiter:
    """How many calls may run at once, and when the next may start.

    ``delay(now)`` says whether a call may start now (``0.0``), only after a pause (seconds), or
    only after a call in flight finishes (``None``); ``start()`` hands out a ticket and
    ``finish(ticket, now, signal)`` reports how the call ended. ``now`` is any monotonic clock in
    seconds (``time.monotonic()`` in the loops, a plain number in tests). Not thread-safe: one
    ``run_many`` loop drives it.
    """

    def __init__(
        self,
        max_concurrency: int = C.DEFAULT_BATCH_CONCURRENCY,
        *,
        min_concurrency: int = 1,
        default_pause: float = C.BATCH_DEFAULT_PAUSE,
        max_pause: float = C.MAX_RETRY_AFTER,
    ) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"concurrency must be a whole number >= 1 (e.g. 4), got {max_concurrency!r}.")
        if not 1 <= min_concurrency <= max_concurrency:
            raise ConfigurationError(
                f"min_concurrency must be between 1 and {max_concurrency}, got {min_concurrency!r}."
            )
        self.max_concurrency = max_concurrency
        self.min_concurrency = min_concurrency
        self.default_pause = default_pause
        self.max_pause = max_pause
        self._window = float(max_concurrency)
        self._tickets = 0
        self._cut_after = 0  # tickets up to this one were in flight at the last cut
        #: Calls started and not finished yet.
        self.in_flight = 0
        #: No call starts before this time (a ``Retry-After`` being honoured).
        self.paused_until = -math.inf
        #: Calls that ended in a rate limit, and how many of those cut the concurrency.
        self.rate_limited = 0
        self.cuts = 0

    @property
    def concurrency(self) -> int:
        """Calls allowed at once right now."""
        return max(self.min_concurrency, int(self._window))

    def delay(self, now: float) -> float | None:
        """0.0: start one now; seconds: paused that long; ``None``: wait for a call to finish."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= self.concurrency:
            return None
        return 0.0

    def start(self) -> int:
        """Count a call as started (after ``delay`` said 0.0); returns its ticket."""
        self.in_flight += 1
        self._tickets += 1
        return self._tickets

    def finish(self, ticket: int, now: float, signal: Signal, *, retry_after: float | None = None) -> None:
        """Count a call as finished and adapt to how it ended."""
        self.in_flight -= 1
        if signal == "ok":
            self._window = min(float(self.max_concurrency), self._window + 1.0 / self.concurrency)
        elif signal == "rate_limited":
            self.rate_limited += 1
            pause = self.default_pause if retry_after is None else retry_after
            self.paused_until = max(self.paused_until, now + min(max(pause, 0.0), self.max_pause))
            if ticket > self._cut_after:
                self._window = max(float(self.min_concurrency), self._window / 2)
                self._cut_after = self._tickets
                self.cuts += 1

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(concurrency={self.concurrency}, max_concurrency={self.max_concurrency}, "
            f"in_flight={self.in_flight})"
        )
