"""The sync total-deadline watchdog: one thread, sockets shut in deadline order, cancels honoured."""

from __future__ import annotations

import socket
import threading
from typing import Any

from qwen_ci_tool._watchdog import Watchdog as _Watchdog


class _Stream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


class _Response:
    def __init__(self, sock: socket.socket | None) -> None:
        self.extensions = {"network_stream": _Stream(sock)} if sock is not None else {}


def _blocked_read_returns(sock: socket.socket) -> bool:
    """True when a read that would block forever returns because the socket was shut down."""
    sock.settimeout(5)
    return sock.recv(1) == b""


def test_due_sockets_are_shut_and_cancelled_ones_are_left_alone() -> None:
    dog = _Watchdog()
    kept_a, kept_b = socket.socketpair()
    early_a, early_b = socket.socketpair()
    late_a, late_b = socket.socketpair()
    try:
        kept = dog.watch(_Response(kept_a), 0.1)  # type: ignore[arg-type]
        assert kept is not None
        kept.cancel()
        dog.watch(_Response(early_a), 0.05)  # type: ignore[arg-type]
        dog.watch(_Response(late_a), 0.3)  # type: ignore[arg-type]
        assert _blocked_read_returns(early_a)
        assert _blocked_read_returns(late_a)  # by now the cancelled deadline has passed too
        kept_b.sendall(b"x")
        kept_a.settimeout(5)
        assert kept_a.recv(1) == b"x", "a cancelled watch does not shut its socket"
    finally:
        for s in (kept_a, kept_b, early_a, early_b, late_a, late_b):
            s.close()


def test_without_a_real_socket_nothing_is_watched() -> None:
    assert _Watchdog().watch(_Response(None), 0.1) is None  # type: ignore[arg-type]


def test_a_nearer_deadline_wakes_the_thread_waiting_for_a_farther_one() -> None:
    dog = _Watchdog()
    far_a, far_b = socket.socketpair()
    near_a, near_b = socket.socketpair()
    try:
        far = dog.watch(_Response(far_a), 3600)  # type: ignore[arg-type]
        assert far is not None
        for _ in range(500):  # until the thread waits on the far deadline (bounded)
            with dog._cond:
                if dog._cond._waiters:  # type: ignore[attr-defined]
                    break
            threading.Event().wait(0.01)
        dog.watch(_Response(near_a), 0.01)  # type: ignore[arg-type]
        assert _blocked_read_returns(near_a), "the near deadline is served, not after the far one"
        far.cancel()
    finally:
        for s in (far_a, far_b, near_a, near_b):
            s.close()


def test_a_socket_already_closed_when_its_deadline_comes_does_not_stop_the_watchdog() -> None:
    # The call can end (and close its socket) between the deadline passing and the shutdown: the
    # thread must survive that and go on serving every other call's deadline.
    dog = _Watchdog()
    gone_a, gone_b = socket.socketpair()
    next_a, next_b = socket.socketpair()
    try:
        gone = dog.watch(_Response(gone_a), 3600)  # type: ignore[arg-type]
        assert gone is not None
        gone_a.close()  # shutdown() on it now raises OSError
        gone.deadline = 0.0  # due at once (the heap's first entry either way)
        with dog._cond:
            dog._cond.notify()
        dog.watch(_Response(next_a), 0.05)  # type: ignore[arg-type]
        assert _blocked_read_returns(next_a), "a later deadline is still served"
        assert dog._thread is not None and dog._thread.is_alive()
    finally:
        for s in (gone_a, gone_b, next_a, next_b):
            s.close()
