"""Many tasks through one client: ``CodeInterpreter.run_many`` and ``AsyncCodeInterpreter.run_many``.

Every decision lives in :class:`BatchPlan` (pure: which task goes next, when, what a finished call
becomes); the sync loop (a bounded thread pool) and the async loop (an anyio task group) only
start calls, wait, and hand what finished back to the plan. A failed task is an outcome, never an
exception that ends the iteration.
"""

from __future__ import annotations

import contextvars
import math
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import anyio

from . import _constants as C
from ._exceptions import QwenCIError, RateLimitError, error_retryable
from ._explain import error_dict
from ._knobs import PYTHON, Knobs
from ._limiter import AdaptiveLimiter, Signal
from ._result import CodeInterpreterResult

#: What a call reports once the service began answering it: how to see what arrived so far.
Began: TypeAlias = Callable[[Callable[[], CodeInterpreterResult]], None]
#: One call of a sync batch: the task, an event set when the batch is closed (stop at the next
#: chunk: a sync read cannot be cancelled) and :data:`Began`. It returns the result or raises; a
#: rate limit is not retried inside it (the batch's limiter owns them).
SyncCall: TypeAlias = Callable[["BatchTask", threading.Event, Began], CodeInterpreterResult]
#: One call of an async batch (cancelled when the batch is closed), likewise.
AsyncCall: TypeAlias = Callable[["BatchTask", Began], Awaitable[CodeInterpreterResult]]

__all__ = [
    "Began",
    "BatchOutcome",
    "BatchPlan",
    "BatchTask",
    "Interrupted",
    "TaskInput",
    "error_retryable",
    "run_many_async",
    "run_many_sync",
]

OutcomeStatus = Literal["completed", "incomplete", "failed"]


@dataclass(frozen=True, slots=True)
class BatchTask:
    """One task of a batch: an id (unique within the batch) and a question or a message list."""

    id: str
    question: str | None = None
    messages: Sequence[Mapping[str, Any]] | None = None

    @classmethod
    def of(cls, item: TaskInput, index: int) -> BatchTask:
        """A task from what ``run_many`` accepts: a task, a question (id: its position), or a dict
        with ``question`` or ``messages`` (and ``id``, default its position)."""
        if isinstance(item, BatchTask):
            return item
        if isinstance(item, str):
            return cls(str(index), question=item)
        if isinstance(item, Mapping):
            return cls(str(item.get("id", index)), question=item.get("question"), messages=item.get("messages"))
        raise TypeError(
            f"task #{index} is a {type(item).__name__}; give a question string, a BatchTask or a dict "
            "with 'id' and 'question' (or 'messages')"
        )


TaskInput: TypeAlias = "BatchTask | str | Mapping[str, Any]"


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """How one task ended: its id, and its result or its error (never both).

    ``status`` is the result's status (``"completed"`` or ``"incomplete"``) or ``"failed"``. A
    failure after the stream began keeps what arrived in ``error.partial``.
    """

    id: str
    status: OutcomeStatus
    result: CodeInterpreterResult | None = None
    error: Exception | None = None

    @classmethod
    def of(cls, task_id: str, value: CodeInterpreterResult | Exception) -> BatchOutcome:
        if isinstance(value, CodeInterpreterResult):
            status: OutcomeStatus = "completed" if value.status == "completed" else "incomplete"
            return cls(task_id, status, result=value)
        return cls(task_id, "failed", error=value)

    @property
    def retryable(self) -> bool:
        """A failure that may succeed if sent again (``False`` for results)."""
        return self.error is not None and error_retryable(self.error)

    @property
    def usage_result(self) -> CodeInterpreterResult | None:
        """The result whose tokens were spent: the result, or a failure's partial result."""
        if self.result is not None:
            return self.result
        return getattr(self.error, "partial", None)

    def to_dict(self, knobs: Knobs = PYTHON) -> dict[str, Any]:
        """The batch output line: ``{"id", "status", "result", "error"}``.

        For a failure, ``result`` is the partial result when the stream had begun (else ``null``);
        ``error`` says what to do in *knobs*' terms (``qwen-ci batch`` writes its flags).
        """
        shown = self.usage_result
        error = None if self.error is None else error_dict(self.error, knobs, service_fields=False)
        return {
            "id": self.id,
            "status": self.status,
            "result": shown.to_dict() if shown is not None else None,
            "error": error,
        }


class Interrupted(QwenCIError):
    """The batch stopped (Ctrl-C, or a failure of the batch itself) while this call ran.

    ``partial`` holds what had arrived, and the tokens it cost. Running the batch again sends the
    task again: it is not a verdict on the task.
    """

    transient = True


class BatchPlan:
    """The decisions of one ``run_many``, shared by the sync and async loops.

    ``next(now)`` gives ``(task, ticket)`` to send now, seconds to wait, ``None`` (wait for a call
    to answer or finish) or :data:`DONE`; ``began(ticket, now, snapshot)`` says the service began
    answering (``snapshot()`` is what arrived so far); ``settle(task, ticket, value, now)`` turns
    what a call returned or raised into an outcome, or ``None`` when a rate-limited task went back
    in the queue (the 429 said nothing was done; it is sent again when the limiter allows).
    ``interrupted()`` is an outcome for every call still in flight, for a loop that stops early.
    """

    #: What :meth:`next` returns when every task has finished.
    DONE: Any = object()

    def __init__(self, tasks: Iterable[TaskInput], limiter: AdaptiveLimiter) -> None:
        self.limiter = limiter
        self._source = enumerate(tasks)
        self._again: deque[BatchTask] = deque()
        self._requeues: dict[str, int] = {}
        self._exhausted = False
        self._running: dict[int, tuple[BatchTask, Callable[[], CodeInterpreterResult] | None]] = {}

    def next(self, now: float) -> tuple[BatchTask, int] | float | None:
        if self._exhausted and not self._again:
            return self.DONE if self.limiter.in_flight == 0 else None
        delay = self.limiter.delay(now)
        if delay != 0.0:
            return delay
        if self._again:
            task = self._again.popleft()
        else:
            item = next(self._source, None)
            if item is None:
                self._exhausted = True
                return self.next(now)
            task = BatchTask.of(item[1], item[0])
        ticket = self.limiter.start(now)
        self._running[ticket] = (task, None)
        return task, ticket

    def began(self, ticket: int, now: float, snapshot: Callable[[], CodeInterpreterResult]) -> None:
        if ticket in self._running:
            self._running[ticket] = (self._running[ticket][0], snapshot)
        self.limiter.admitted(ticket, now)

    def settle(
        self, task: BatchTask, ticket: int, value: CodeInterpreterResult | Exception, now: float
    ) -> BatchOutcome | None:
        self._running.pop(ticket, None)
        signal: Signal = "ok"
        if isinstance(value, RateLimitError):
            signal = "rate_limited"
        elif isinstance(value, Exception):
            signal = "failed"
        self.limiter.finish(ticket, now, signal, retry_after=getattr(value, "retry_after", None))
        if isinstance(value, RateLimitError) and value.partial is None and error_retryable(value):
            count = self._requeues.get(task.id, 0)
            if count < C.BATCH_MAX_REQUEUES:
                self._requeues[task.id] = count + 1
                self._again.append(task)
                return None
        return BatchOutcome.of(task.id, value)

    def interrupted(self) -> list[BatchOutcome]:
        """An :class:`Interrupted` outcome for each call in flight, with what it had received (once)."""
        out = []
        for task, snapshot in self._running.values():
            partial = snapshot() if snapshot is not None else None
            error = Interrupted(
                "The batch stopped while this call ran; running it again sends the task again.",
                request_id=partial.request_id if partial is not None else None,
                partial=partial,
            )
            out.append(BatchOutcome(task.id, "failed", error=error))
        self._running.clear()
        return out


class Stopped(Exception):
    """The batch was closed while this call ran; its result is not wanted."""


#: What a call tells its loop: it began (with its snapshot), or it ended (with its value).
_Message: TypeAlias = "tuple[BatchTask, int, Callable[[], CodeInterpreterResult] | CodeInterpreterResult | Exception]"


def _handle(plan: BatchPlan, message: _Message, now: float) -> BatchOutcome | None:
    task, ticket, value = message
    if isinstance(value, (CodeInterpreterResult, Exception)):
        return plan.settle(task, ticket, value, now)
    plan.began(ticket, now, value)
    return None


def _report_stopped(plan: BatchPlan, on_stop: Callable[[BatchOutcome], None] | None) -> None:
    if on_stop is not None:
        for outcome in plan.interrupted():
            on_stop(outcome)


def _call_sync(
    call: SyncCall, task: BatchTask, ticket: int, stop: threading.Event, put: Callable[[_Message], None]
) -> None:
    value: CodeInterpreterResult | Exception
    try:
        value = call(task, stop, lambda snapshot: put((task, ticket, snapshot)))
    except Exception as exc:
        value = exc
    put((task, ticket, value))


def run_many_sync(
    call: SyncCall, tasks: Iterable[TaskInput], limiter: AdaptiveLimiter
) -> Generator[BatchOutcome, None, None]:
    plan = BatchPlan(tasks, limiter)
    stop = threading.Event()
    messages: queue.SimpleQueue[_Message] = queue.SimpleQueue()
    pool = ThreadPoolExecutor(max_workers=plan.limiter.max_concurrency, thread_name_prefix="qwen-ci-batch")
    try:
        while True:
            step = plan.next(time.monotonic())
            if isinstance(step, tuple):
                # In the caller's context (a copy each): a call's span is a child of the caller's span.
                in_context = contextvars.copy_context().run
                pool.submit(in_context, _call_sync, call, step[0], step[1], stop, messages.put)
                continue
            if step is BatchPlan.DONE:
                return
            try:
                message = messages.get(timeout=step)
            except queue.Empty:
                continue
            outcome = _handle(plan, message, time.monotonic())
            if outcome is not None:
                yield outcome
    finally:
        # Leaving early (break, Ctrl-C): nothing new starts, calls in flight stop at their next chunk.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)


class _Inbox:
    """What the calls of an async batch tell its loop (all in one event loop): the calls that ended.
    Messages that arrived together are taken without a checkpoint each, and only an empty inbox is
    waited on. (An admission is told to the plan by the call itself, in the same thread, and wakes
    the loop only when the loop waits for one: see :meth:`nudge`.) A memory stream checkpoints on
    every receive and builds a waiter for every wait: at a rate limit, where messages come one at a
    time, that was a measurable share of a task's CPU."""

    def __init__(self) -> None:
        self._messages: deque[_Message] = deque()
        self._arrived = anyio.Event()
        self._deadline = False  # the loop waits for a deadline (a paced start), not only for news

    def put(self, message: _Message) -> None:
        self._messages.append(message)
        self._arrived.set()

    def nudge(self) -> None:
        """Wake a loop that waits only for news (a call answered): it may start the next call now.
        A loop waiting for its next paced start is not woken: an admission raises the rate by little."""
        if not self._deadline:
            self._arrived.set()

    async def get(self, timeout: float | None) -> _Message | None:
        """The next message, waiting at most ``timeout`` seconds (``None``: until one comes, or a nudge)."""
        if not self._messages:
            if self._arrived.is_set():  # set for messages already taken
                self._arrived = anyio.Event()
            self._deadline = timeout is not None
            with anyio.move_on_after(math.inf if timeout is None else timeout):
                await self._arrived.wait()
            self._deadline = False
        return self._messages.popleft() if self._messages else None


async def _call_async(call: AsyncCall, task: BatchTask, ticket: int, plan: BatchPlan, inbox: _Inbox) -> None:
    def began(snapshot: Callable[[], CodeInterpreterResult]) -> None:
        # In the loop's own thread: told to the plan at once, without a wakeup of the loop for it.
        plan.began(ticket, anyio.current_time(), snapshot)
        inbox.nudge()

    value: CodeInterpreterResult | Exception
    try:
        value = await call(task, began)
    except Exception as exc:
        value = exc
    inbox.put((task, ticket, value))


async def run_many_async(
    call: AsyncCall,
    tasks: Iterable[TaskInput],
    limiter: AdaptiveLimiter,
    on_stop: Callable[[BatchOutcome], None] | None = None,
) -> AsyncGenerator[BatchOutcome, None]:
    plan = BatchPlan(tasks, limiter)
    inbox = _Inbox()
    async with anyio.create_task_group() as group:
        try:
            while True:
                step = plan.next(anyio.current_time())
                if isinstance(step, tuple):
                    group.start_soon(_call_async, call, step[0], step[1], plan, inbox)
                    continue
                if step is BatchPlan.DONE:
                    return
                message = await inbox.get(step)
                if message is None:
                    continue
                outcome = _handle(plan, message, anyio.current_time())
                if outcome is not None:
                    try:
                        yield outcome
                    except GeneratorExit:
                        # Closed early (aclosing, break): a task group must not see
                        # GeneratorExit, so cancel the calls in flight and end normally.
                        group.cancel_scope.cancel()
                        return
        finally:
            # Leaving early (break, cancellation): calls in flight are cancelled, their connections closed.
            group.cancel_scope.cancel()
            _report_stopped(plan, on_stop)
