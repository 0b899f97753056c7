"""The one deadline of a shutdown: everything it does ends within ``--shutdown-grace``.

The grace is split once, here, when shutdown begins:

- runs in flight may finish until :attr:`Deadline.runs_end`, the grace minus a reserve (a quarter
  of it, at most :data:`MAX_RESERVE` seconds);
- the reserve is for what follows: cancelling the runs left, delivering every final record to the
  calls and polls waiting for it and to the shared store, the requests clients send right after an
  answer, and closing the connections still open.

Each step after the runs asks :meth:`Deadline.left`, so none adds time on top of the grace: a
process that is not killed first exits once it is over, whatever clients are sending.
"""

from __future__ import annotations

import anyio

__all__ = ["MAX_RESERVE", "RESERVE_SHARE", "Deadline"]

#: The share of the grace kept for delivering and closing after the runs, and its upper bound in
#: seconds (the wait for clients' follow-up requests, one store write and the connections fit in it).
RESERVE_SHARE = 0.25
MAX_RESERVE = 3.0


class Deadline:
    """The end of a shutdown that began now with *grace* seconds, and of the runs' part of it."""

    def __init__(self, grace: float) -> None:
        self.grace = max(0.0, grace)
        now = anyio.current_time()
        self.end = now + self.grace
        #: Seconds the runs in flight are given to finish (the grace minus the reserve).
        self.runs_grace = self.grace - min(self.grace * RESERVE_SHARE, MAX_RESERVE)
        self.runs_end = now + self.runs_grace

    def left(self) -> float:
        """Seconds until the whole shutdown must be over (0 once it is)."""
        return max(0.0, self.end - anyio.current_time())

    def runs_left(self) -> float:
        """Seconds the runs still in flight may go on before they are cancelled (0 once past)."""
        return max(0.0, self.runs_end - anyio.current_time())
