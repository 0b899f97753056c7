"""The emulator's opt-in rate limit: a token bucket, pure (the clock is passed in)."""

from __future__ import annotations

from typing import Literal

__all__ = ["Throttle", "WaitHeaders"]

#: How a refusal names its wait: ``Retry-After``, OpenAI-style ``x-ratelimit-*-requests``, or not at all.
WaitHeaders = Literal["retry-after", "x-ratelimit", "none"]


class Throttle:
    """At most ``rate`` requests per second on average and ``burst`` back to back.

    ``admit(now)`` is ``None`` when a request may pass (it takes a token), otherwise the seconds
    until one would: what the emulator sends as ``Retry-After``.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate_limit must be > 0 and rate_burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated: float | None = None

    def admit(self, now: float) -> float | None:
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.rate

    def refusal_headers(self, wait: float, style: WaitHeaders) -> list[tuple[str, str]]:
        """The headers of a refusal whose next token comes in ``wait`` seconds, in ``style``.

        ``x-ratelimit``: the budget (the bucket), none of it left, and the time until it is full
        again, as OpenAI-compatible gateways send them.
        """
        if style == "retry-after":
            return [("retry-after", f"{wait:.3f}")]
        if style == "x-ratelimit":
            full = wait + (self.burst - 1.0) / self.rate
            return [
                ("x-ratelimit-limit-requests", str(int(self.burst))),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", f"{full:.3f}s"),
            ]
        return []
