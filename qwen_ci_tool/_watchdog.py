"""The total-deadline watchdog for sync calls: one thread shuts a socket down when its call's
deadline passes, so that a blocked read returns (a sync read cannot be cancelled otherwise)."""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time

import httpx

__all__ = ["WATCHDOG", "Watch", "Watchdog"]


class Watch:
    __slots__ = ("active", "deadline", "sock")

    def __init__(self, deadline: float, sock: socket.socket) -> None:
        self.deadline = deadline
        self.sock = sock
        self.active = True

    def __lt__(self, other: Watch) -> bool:
        return self.deadline < other.deadline

    def cancel(self) -> None:
        self.active = False  # dropped lazily by the watchdog thread


class Watchdog:
    """Shuts a socket down when its call's total deadline passes, so a blocked sync read returns.

    A sync read cannot be cancelled; shutting the socket wakes it. One daemon thread serves every
    sync call in the process (a timer thread per call would cost more than the call's parsing).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[Watch] = []
        self._thread: threading.Thread | None = None

    def watch(self, response: httpx.Response, delay: float) -> Watch | None:
        # Without a real socket (an injected mock transport) the deadline is still checked
        # between chunks by the loop itself.
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return None
        watch = Watch(time.monotonic() + max(delay, 0.0), sock)
        with self._cond:
            heapq.heappush(self._heap, watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qwen-ci-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0] is watch:
                self._cond.notify()
        return watch

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and not self._heap[0].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = heapq.heappop(self._heap)
            if due.active:
                with contextlib.suppress(OSError):
                    due.sock.shutdown(socket.SHUT_RDWR)


#: One per process: every sync call's deadline is watched by the same thread.
WATCHDOG = Watchdog()
