"""The limiter behind ``run_many``: paces the *starts* of calls, pure, no I/O, time passed in.

A service's rate limit is a limit on how many calls may start per second (with or without a
burst), while its calls may last seconds to minutes. So the limiter learns the start rate the
service admits and spaces starts evenly below it; the concurrency the caller allowed stays a
second, fixed bound:

- until the first rate limit, starts are bounded by the concurrency and grow as answers come (at
  most as many calls awaiting their first answer as calls answered so far, at least one): a limit
  is found with a handful of refusals, not a whole concurrency's worth;
- a call refused with a rate limit (429, ``Throttling*``) pauses every new start for the
  ``Retry-After`` the service asked for (or :data:`BATCH_DEFAULT_PAUSE` the first time, one interval
  later), and cuts the start rate to ``BACKOFF`` × the rate that was too fast (at most 1.25 × the
  rate just admitted; deeper for each cut in a row with no admission between). The first time, that
  rate is one per ``Retry-After`` (the longest a burst of refusals names; at most four times what was
  admitted). Without one, what was admitted over the last second is only what the service allowed,
  not a rate it refused: each admission then raises the rate by :data:`SEARCH_STEP` until a refusal
  names the rate reached. A burst of refusals of calls started before the cut counts once (each
  start gets a ticket; only tickets issued after the last cut can cut), and so does the refusal of
  the first start after a pause (it was not spaced);
- each admission (the service began answering a call started after the last cut) probes upward on
  a cubic curve, as TCP CUBIC and the AWS SDKs' adaptive retry mode do: from the rate after the cut
  back to the rate that was too fast within :data:`PROBE_ADMISSIONS` admissions, flat near it, then
  faster beyond it, never above twice the rate the service was just seen to admit (each refusal
  costs a request and its answer: the slower the probe comes back, the fewer of them);
- other failures (5xx, dropped streams, bad requests) are no verdict on the rate;
- where the service was seen to admit a bunch of calls started together (within
  :data:`BUNCH_SPAN`; before the first refusal, starts come in bunches as answers come), paced starts
  go in groups of that size (at most :data:`MAX_GROUP`), each group ``size / rate`` after the last:
  the same rate in fewer wakeups of the loop (each costs more CPU than the starts it makes, on a
  machine whose caches went cold meanwhile). A group waits as many intervals as it has starts, so a
  token bucket that admitted the bunch has refilled for it. Starts go single after a pause, and after
  a cut until as many calls as a group were admitted at the new rate; two groups in a row admitted
  only in part make the groups one smaller (one alone is an overshoot of the rate, which the cut
  handles). A service that refuses starts closer than one interval (no burst) never admits a bunch:
  its starts stay single.

In a batch the limiter owns rate limits: a refused task goes back in the queue (``BatchPlan``),
and the client's engine does not retry 429s inside the call. The sync and async ``run_many`` loops
both drive this one object.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Literal

from . import _constants as C
from ._exceptions import ConfigurationError

__all__ = ["AdaptiveLimiter", "Signal"]

#: How a call ended, as far as the limiter cares.
Signal = Literal["ok", "rate_limited", "failed"]

#: After a rate limit, the start rate becomes this share of the rate that was refused.
BACKOFF = 0.95
#: Admissions after a cut that bring the start rate back to the rate that was refused (each refusal
#: costs the service's answer and a request sent again: a slow return to the limit means fewer).
PROBE_ADMISSIONS = 48
#: Until a rate is known to be too fast (a first refusal that named no wait), each admission raises
#: the rate by this factor: doubling every six admissions.
SEARCH_STEP = 1.125
#: The rate is never learnt below one start per this many seconds.
_MIN_RATE = 1.0 / C.MAX_RETRY_AFTER
#: The admitted rate is measured over at least this many seconds, and this many admissions.
_WINDOW_SECONDS = 1.0
_WINDOW_ADMISSIONS = 8
#: At a cut, the rate taken as refused is at most this multiple of the rate just admitted.
_REACHED = 1.25
#: Paced starts go in groups of at most this many (when the service admitted such bunches).
MAX_GROUP = 4
#: Starts within this many seconds of the first of a bunch are one bunch (started together).
BUNCH_SPAN = 0.002


class AdaptiveLimiter:
    """When the next call may start: spaced below the learnt start rate, at most
    ``max_concurrency`` at once.

    ``delay(now)`` says whether a call may start now (``0.0``), only after a pause (seconds), or
    only after a call in flight answers or finishes (``None``); ``start(now)`` hands out a ticket,
    ``admitted(ticket, now)`` reports that the service began answering it, and
    ``finish(ticket, now, signal)`` how it ended. ``now`` is any monotonic clock in seconds
    (``time.monotonic()`` in the loops, a plain number in tests). Not thread-safe: one
    ``run_many`` loop drives it.
    """

    def __init__(
        self,
        max_concurrency: int = C.DEFAULT_BATCH_CONCURRENCY,
        *,
        default_pause: float = C.BATCH_DEFAULT_PAUSE,
        max_pause: float = C.MAX_RETRY_AFTER,
    ) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(
                f"Invalid concurrency {max_concurrency!r}.", hint="{concurrency} must be a whole number >= 1 (e.g. 4)."
            )
        self.max_concurrency = max_concurrency
        self.default_pause = default_pause
        self.max_pause = max_pause
        #: Starts per second allowed now; ``None`` until the service first refused one.
        self.rate: float | None = None
        self._tickets = 0
        self._cut_after = 0  # tickets up to this one were issued before the last cut
        self._refused_rate = 0.0  # the rate that drew the last cut
        self._cut_to = 0.0  # the rate just after it: where the probe starts
        self._searching = False  # the rate is what was admitted, none is known to be too fast
        self._searched = False  # the last cut ended a search (or refusals in a row after one)
        self._probes = 0  # admissions since the last cut
        self._streak = 0  # cuts in a row with no admission between them
        self._now = -math.inf  # the time of the last delay(): start() defaults to it
        self._last_start = -math.inf
        self._first_start = math.inf
        self._awaiting: set[int] = set()  # started, no answer yet
        self._answered = 0
        self._admissions: deque[float] = deque(maxlen=4096)
        # Bunches (starts together): ticket -> [size, verdicts due, admitted, paced (a group)].
        self._bunch_of: dict[int, list[int]] = {}
        self._bunch: list[int] = []  # the last bunch started
        self._bunch_start = -math.inf
        self._group_left = 0  # starts the group being started may still take (back to back)
        self._single = True  # the next start goes alone (the first after a pause)
        self._partial = False  # the last group judged was admitted only in part
        #: Calls the service was seen to admit back to back (a bunch admitted whole), at most :data:`MAX_GROUP`.
        self.burst = 1
        #: Calls started and not finished yet.
        self.in_flight = 0
        #: No call starts before this time (a ``Retry-After`` being honoured).
        self.paused_until = -math.inf
        #: Calls that ended in a rate limit, and how many of those cut the start rate.
        self.rate_limited = 0
        self.cuts = 0

    @property
    def concurrency(self) -> int:
        """Calls allowed at once: the caller's bound (rate limits pace starts instead)."""
        return self.max_concurrency

    def delay(self, now: float) -> float | None:
        """0.0: start one now; seconds: wait that long; ``None``: wait for a call to answer or finish."""
        self._now = now
        wait = self._delay(now)
        if wait != 0.0:  # the loop waits: the group being started is over
            self._group_left = 0
        return wait

    def _delay(self, now: float) -> float | None:
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= self.max_concurrency:
            return None
        if self.rate is None:
            return None if len(self._awaiting) >= max(1, self._answered) else 0.0
        if self._group_left:
            return 0.0
        # A group of ``size`` waits ``size`` intervals after the last group began.
        wait = self._last_start + self._group_size() / self.rate - now
        return wait if wait > 0 else 0.0

    def _group_size(self) -> int:
        return 1 if self._single or self._probes < self.burst else self.burst

    def start(self, now: float | None = None) -> int:
        """Count a call as started (after ``delay`` said 0.0; ``now`` defaults to that time); its ticket."""
        self.in_flight += 1
        self._tickets += 1
        self._awaiting.add(self._tickets)
        at = self._now if now is None else now
        if at - self._bunch_start > BUNCH_SPAN:
            self._bunch, self._bunch_start = [0, 0, 0, int(self.rate is not None)], at
        self._bunch[0] += 1
        self._bunch[1] += 1
        self._bunch_of[self._tickets] = self._bunch
        if self._group_left:  # the rest of a group: started with its first
            self._group_left -= 1
            return self._tickets
        if self._last_start == -math.inf and self.rate is not None:
            # The first start after a refusal is not spaced at the rate: its refusal says nothing
            # about the rate (only that the pause was too short), so it cannot cut.
            self._cut_after = self._tickets
        if self.rate is not None:
            self._group_left = self._group_size() - 1
            self._single = False
        self._last_start = at
        self._first_start = min(self._first_start, at)
        return self._tickets

    def _verdict(self, ticket: int, admitted: bool) -> None:
        """The service answered call ``ticket`` (admitted or refused): what its bunch says of bursts."""
        bunch = self._bunch_of.pop(ticket, None)
        if bunch is None:
            return
        bunch[1] -= 1
        bunch[2] += admitted
        size, due, took, paced = bunch
        if due or size < 2:
            return
        if took == size:  # admitted whole: the service takes bursts this big
            self.burst = min(max(self.burst, size), MAX_GROUP)
            self._partial = False
        elif took and paced:
            # A group admitted in part: once, an overshoot of the rate (the cut handles it); twice in
            # a row, bursts that big may not (or no longer) be allowed: one smaller.
            if self._partial:
                self.burst = max(took, self.burst - 1)
            self._partial = True

    def admitted(self, ticket: int, now: float) -> None:
        """The service began answering call ``ticket`` (its stream started): it was admitted."""
        if ticket not in self._awaiting:
            return
        self._awaiting.discard(ticket)
        self._answered += 1
        self._admissions.append(now)
        self._verdict(ticket, True)
        if self.rate is not None and ticket > self._cut_after:
            self._probes += 1
            if self._searching:
                probe = self.rate * SEARCH_STEP
            else:
                depth = 1.0 - self._cut_to / self._refused_rate  # the share the cut took off
                probe = self._refused_rate * (1.0 + depth * (self._probes / PROBE_ADMISSIONS - 1.0) ** 3)
            self.rate = max(self.rate, min(probe, self._ceiling(now)))

    def finish(self, ticket: int, now: float, signal: Signal, *, retry_after: float | None = None) -> None:
        """Count a call as finished and adapt to how it ended."""
        self.in_flight -= 1
        if signal == "ok":
            self.admitted(ticket, now)  # a loop that did not report the admission
        elif signal == "failed":
            self._bunch_of.pop(ticket, None)  # no verdict on bursts either: its bunch proves nothing
            if ticket in self._awaiting:
                self._awaiting.discard(ticket)
                self._answered += 1
        else:
            self._awaiting.discard(ticket)
            self._verdict(ticket, False)
            self.rate_limited += 1
            if retry_after is None:  # once the rate is known, one interval is the wait a slot takes
                pause = self.default_pause if self.rate is None else 1.0 / self.rate
            if ticket > self._cut_after:
                self._cut(now, retry_after)
            elif self.cuts == 1 and not self._probes and retry_after:
                # Another refusal of the first burst: the longest wait named is the best estimate.
                self._estimate(min(self._refused_rate, 1.0 / min(retry_after, self.max_pause)))
            if retry_after is None:
                retry_after = pause
            self.paused_until = max(self.paused_until, now + min(max(retry_after, 0.0), self.max_pause))
            # The refused start used no slot: the next may go as soon as the pause is over, alone.
            self._last_start = -math.inf
            self._single = True

    def _ceiling(self, now: float) -> float:
        """Twice the rate just admitted: how far a probe may go (no bound before enough admissions)."""
        if len(self._admissions) < _WINDOW_ADMISSIONS:
            return math.inf
        return max(2.0 * self.admitted_rate(now), _MIN_RATE)

    def admitted_rate(self, now: float) -> float:
        """Admissions per second, over the last second or the last few admissions if they took longer
        (never counting from before the first start)."""
        if not self._admissions:
            return 0.0
        oldest = self._admissions[-min(_WINDOW_ADMISSIONS, len(self._admissions))]
        window = max(min(_WINDOW_SECONDS, now - self._first_start), now - oldest, 1e-3)
        return (len(self._admissions) - bisect.bisect_right(self._admissions, now - window)) / window

    def _cut(self, now: float, retry_after: float | None) -> None:
        if self.rate is None:
            # The first refusal: what the service admitted over the last second (or since the first
            # start, if the run is younger; a quarter of a second at least), or one per Retry-After.
            window = max(min(_WINDOW_SECONDS, now - self._first_start), _WINDOW_SECONDS / 4)
            seen = (len(self._admissions) - bisect.bisect_right(self._admissions, now - window)) / window
            # One per Retry-After is the rate itself for a token bucket or evenly spaced starts; a
            # fixed window may name a much shorter wait: then at most four times what was seen.
            refused = 1.0 / min(retry_after, self.max_pause) if retry_after else seen
            if retry_after and len(self._admissions) >= _WINDOW_ADMISSIONS:
                refused = min(refused, 4.0 * seen)
            if not refused:  # nothing admitted yet and no wait named: nothing learnt, just the pause
                return
            # Without a wait named, what was admitted is no rate the service refused: search upward.
            self._searching = not retry_after
        else:
            # A rate far above what was just admitted was never reached: cut from what was. But a search
            # (and refusals in a row right after it) reached its rate start by start, while what was
            # admitted over the last second lags behind.
            reached = self._searching or (self._searched and not self._probes)
            refused = self.rate if reached else min(self.rate, _REACHED * self._ceiling(now) / 2.0)
            self._searched, self._searching = reached, False
        # Refused again before any call was admitted at the new rate: still far too fast, cut deeper
        # (the probe climbs back from there).
        self._streak = self._streak + 1 if self.rate is not None and not self._probes else 0
        self._estimate(refused, BACKOFF**self._streak)
        self._probes = 0
        self._cut_after = self._tickets
        self.cuts += 1

    def _estimate(self, refused: float, deeper: float = 1.0) -> None:
        # Never at the floor itself: a cut must leave a depth for the probe to climb (a refused rate
        # on the floor would keep the batch at one start per MAX_RETRY_AFTER for good).
        self._refused_rate = max(refused, _MIN_RATE / BACKOFF)
        self.rate = self._cut_to = max(BACKOFF * deeper * self._refused_rate, _MIN_RATE)

    def __repr__(self) -> str:
        rate = "unknown" if self.rate is None else f"{self.rate:.3g}/s"
        return f"AdaptiveLimiter(rate={rate}, max_concurrency={self.max_concurrency}, in_flight={self.in_flight})"
