"""A call's life, in one place: accepted, queued for a slot, run, waited for, handed over, cancelled, drained.

- :meth:`Runner.call` (``qwen_code_interpreter``) refuses at once (no key, shutting down, too many
  runs) or starts a run in the background (the server lifespan's task group) and waits for it up
  to ``max_wait`` seconds; a run still going then is answered with its handle. A client that
  gives up on the call it started (SDK cancel, disconnect, ``notifications/cancelled``) cancels
  its run: nobody would collect the result.
- :meth:`Runner.result` (``qwen_code_interpreter_result``) waits again for a run of the same
  client (another client's run is "no such run"); giving up there leaves the run going, and a
  finished result is returned as often as it is asked for, until it expires.
- A run holds one of ``max_concurrency`` slots while it calls the service. Its records live in
  this process (so its own calls never depend on a shared store) and, with a shared store, are
  copied there by a writer of their own that never holds the run up; any replica then answers for
  it. A store that fails is logged and counted (``link``); runs go on.
- :meth:`Runner.drain` (shutdown): new calls are refused; calls still queued for a slot are
  refused at once (never sent upstream); runs get the runs' part of the grace to finish
  (``deadline``), then are cancelled with their partials; every final record is delivered to the
  calls and polls waiting here and written to the shared store before it returns, unless the
  whole grace is over first. The result tool keeps answering meanwhile; over HTTP without a
  shared store, a result answered with a handle is also held until a poll collects it (``handles``).
- Cancels over HTTP that match no request here are sent to the other replicas through the store
  (:meth:`Runner.forward_cancel`, :meth:`Runner.listen_for_cancels`, both ``link``'s).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreterResult, QwenCIError, StageTracker
from qwen_ci_tool import _constants as C
from qwen_ci_tool._stages import is_work_stage

from .. import _texts as T
from .._constants import RESULT_TOOL_NAME, TOOL_NAME
from .._ops import CallRecord, Ops, current_client
from .._requests import current_exchange
from .._schema import RunPendingModel
from .deadline import Deadline
from .handles import Handles
from .link import StoreLink
from .memory import MemoryRunStore
from .progress import Progress
from .records import RunRecord, RunStore, StoreUnavailable, new_run_id
from .results import Results, text_result

__all__ = ["MAX_LIVE_RUNS", "Runner"]

logger = logging.getLogger("mcp_server")

#: Runs in progress at once (each queued for a slot or running); beyond it calls are refused.
MAX_LIVE_RUNS = 1000
#: Seconds one write to the shared store may take before it counts as failed.
_STORE_WRITE_TIMEOUT = 3.0


class _LiveRun:
    """A run executing in this process: its newest record, its cancel scope and why it was cancelled."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.scope = anyio.CancelScope()
        self.reason: str | None = None
        self.partial: CodeInterpreterResult | None = None
        #: Whether it waits for a slot all others hold, and whether it holds one (its request was sent).
        self.queued = False
        self.started = False
        #: Refused at shutdown while queued for a slot.
        self.refused = False
        #: Set when ``record`` changes, for the writer to the shared store; the newest version written there.
        self.changed = anyio.Event()
        self.written = -1
        #: The progress reporters of the calls waiting for this run in this process.
        self.listeners: set[Callable[[str, str | None], Awaitable[None]]] = set()
        #: The run's result for its waiters here (not its wire form read back), and set once it is there.
        self.outcome: CallToolResult | None = None
        self.finished = anyio.Event()

    def cancel(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()


class Runner:
    """Shared per server: the core client, the slots, the runs, the stores and the limits."""

    def __init__(
        self,
        client: AsyncCodeInterpreter,
        ops: Ops,
        results: Results,
        *,
        max_concurrency: int,
        heartbeat: float,
        max_wait: float,
        result_ttl: float,
        shared: RunStore | None,
    ) -> None:
        self.client = client
        self.ops = ops
        self.results = results
        self.max_concurrency = max_concurrency
        self.heartbeat = heartbeat
        self.max_wait = max_wait
        self.result_ttl = result_ttl
        self.local = MemoryRunStore(ttl=result_ttl)
        self.handles = Handles(self.local)
        self.slots = anyio.Semaphore(max_concurrency, fast_acquire=True)  # a free slot: no trip through the loop
        self.live: dict[str, _LiveRun] = {}
        self.accepting = True
        self.link = StoreLink(shared, ops)
        self._run_ended = anyio.Event()
        self._drained = anyio.Event()

    @property
    def shared(self) -> RunStore | None:
        """The store shared with other replicas (None with ``memory``): the link's, held once."""
        return self.link.store

    @property
    def ready(self) -> bool:
        """Whether new calls are taken (false once shutdown has begun)."""
        return self.accepting

    # -- the two tools ------------------------------------------------------------------------

    async def call(
        self, question: str, include_reasoning: bool, ctx: Context, runs: anyio.abc.TaskGroup
    ) -> CallToolResult:
        exchange = current_exchange.get()
        # Over HTTP the gate decides, before anything is answered (a 503 that nginx retries on the
        # next replica): a call it let in is served even if SIGTERM came since, and the drain waits for it.
        admitted = exchange is not None and exchange.admitted and not self._drained.is_set()
        if not self.accepting and not admitted:
            self.ops.refused("ShuttingDown")
            return text_result(T.SHUTTING_DOWN_TEXT, is_error=True)
        if self.client.settings.api_key is None:
            logger.warning("%s called but %s is not set", TOOL_NAME, C.ENV_API_KEY)
            self.ops.refused("ConfigurationError")
            return text_result(T.NO_KEY_TEXT, is_error=True)
        if len(self.live) >= MAX_LIVE_RUNS:
            self.ops.refused("TooManyRuns")
            return text_result(T.too_many_runs_text(len(self.live)), is_error=True)
        run = _LiveRun(RunRecord(new_run_id(), started_at=time.time(), owner=current_client()))
        self.live[run.record.run_id] = run
        if exchange is not None:
            exchange.start()
        await self._publish(run, run.record)
        runs.start_soon(self._execute, run, question, include_reasoning)
        # The client cancelling or timing out while it waits for the run it started (the SDK
        # cancels this handler; over HTTP the gate may abort the exchange instead): nobody will ask
        # for the result, so the upstream request is closed now, not when it ends.
        with exchange.guard() if exchange is not None else anyio.CancelScope():
            try:
                answer = await self._await(run.record.run_id, ctx, after_version=run.record.version)
            except anyio.get_cancelled_exc_class():  # (an aborted exchange's guard too: its reason then)
                run.cancel(
                    exchange.reason if exchange is not None and exchange.reason else "the client cancelled the call"
                )
                raise
            if isinstance(answer.structured_content, dict) and answer.structured_content.get("status") == "running":
                self.ops.handle_issued(run.record.run_id)
                await self.handles.issued(run.record.run_id)
            return answer
        assert exchange is not None and exchange.reason is not None
        run.cancel(exchange.reason)
        return text_result(T.cancelled_call_text(exchange.reason), is_error=True)

    async def result(self, run_id: str, ctx: Context) -> CallToolResult:
        # Waiting again does not own the run: a client giving up here leaves it running.
        exchange = current_exchange.get()
        with exchange.guard() if exchange is not None else anyio.CancelScope():
            return await self._await(run_id.strip(), ctx, after_version=-1)
        return text_result(T.STOPPED_WAITING_TEXT, is_error=True)

    # -- waiting --------------------------------------------------------------------------------

    async def _await(self, run_id: str, ctx: Context, *, after_version: int) -> CallToolResult:
        """The run's result, or its handle once ``max_wait`` passes; progress meanwhile.

        A run of this process is read here (and reports each stage to its waiters as it happens);
        another replica's run is followed through the shared store, which may skip stages between
        two looks. Once this server has drained, waits for other replicas' runs end at once.
        """
        deadline = anyio.current_time() + self.max_wait if self.max_wait > 0 else math.inf
        store: RunStore = self.local
        try:
            record = await self.local.get(run_id)
            if record is None and self.shared is not None:
                store = self.shared
                record = await self.shared.get(run_id)
        except StoreUnavailable as exc:
            self.link.failed("read", exc)
            return text_result(T.store_unavailable_text(run_id), is_error=True)
        if record is None or record.owner != current_client():
            return text_result(T.unknown_run_text(run_id, self.result_ttl), is_error=True)
        progress = Progress(ctx, self.heartbeat)
        local = self.live.get(run_id)
        if local is not None:  # its stages come as they happen (a listener): this wait wakes at its end only
            local.listeners.add(progress.report)
            try:
                if after_version < 0 and local.record.state != "finished":
                    await progress.report(local.record.stage, local.record.message)  # where it is now
                await progress.wait(local.finished, deadline)
            finally:
                local.listeners.discard(progress.report)
            if local.outcome is None:
                return self._pending(local.record, local)
            self.handles.collected(run_id)
            return local.outcome
        version = after_version
        failure: StoreUnavailable | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(progress.heartbeat)
            if store is not self.local:
                tg.start_soon(self._end_on_drained, tg.cancel_scope)
            while record.state != "finished" and anyio.current_time() < deadline:
                try:
                    newer = await store.wait(run_id, version, deadline - anyio.current_time())
                except StoreUnavailable as exc:
                    failure = exc
                    break
                if newer is None:
                    record = None
                    break
                record = newer
                if record.version != version:
                    version = record.version
                    await progress.report(record.stage, record.message)
            tg.cancel_scope.cancel()
        if failure is not None:
            self.link.failed("read", failure)
            return text_result(T.store_unavailable_text(run_id), is_error=True)
        if record is None:
            return text_result(T.unknown_run_text(run_id, self.result_ttl), is_error=True)
        if record.state == "finished" and record.result is not None:
            self.handles.collected(run_id)
            return CallToolResult.model_validate(record.result)
        return self._pending(record, local)

    async def _end_on_drained(self, scope: anyio.CancelScope) -> None:
        await self._drained.wait()
        scope.cancel()

    def _pending(self, record: RunRecord, local: _LiveRun | None) -> CallToolResult:
        elapsed = max(0.0, time.time() - record.started_at)
        pending = RunPendingModel(
            status="running",
            run_id=record.run_id,
            stage=record.stage,
            elapsed_seconds=round(elapsed, 1),
            result_tool=RESULT_TOOL_NAME,
        )
        text = T.pending_text(
            run_id=record.run_id,
            stage=record.stage,
            elapsed=elapsed,
            max_wait=self.max_wait,
            ttl=self.result_ttl,
            # Down, or not holding this run yet (a store that does not answer takes its timeout to fail).
            store_down=self.shared is not None and (self.link.down or (local is not None and local.written < 0)),
        )
        return text_result(text, is_error=False, structured=pending.model_dump(mode="json"))

    # -- running ----------------------------------------------------------------------------

    async def _execute(self, run: _LiveRun, question: str, include_reasoning: bool) -> None:
        try:
            async with anyio.create_task_group() as writers:
                if self.shared is not None:
                    writers.start_soon(self._write_shared, run, self.shared)
                await self._run_to_end(run, question, include_reasoning)
            # The writer has written the final record (or given up): the run is over here.
        finally:
            del self.live[run.record.run_id]
            ended, self._run_ended = self._run_ended, anyio.Event()
            ended.set()

    async def _run_to_end(self, run: _LiveRun, question: str, include_reasoning: bool) -> None:
        outcome: CallToolResult | None = None
        try:
            # Started from the call's task, so the run is counted and logged under the caller's
            # name; counted before the result is published, so metrics never lag an answer.
            with self.ops.track_call(run.record.run_id) as call:
                with run.scope:
                    outcome = await self._run(question, include_reasoning, run, call)
                if outcome is None and run.refused:
                    call.failed("ShuttingDown")
                elif outcome is None:
                    call.cancelled(run.partial)
        finally:  # also when the lifespan's task group is cancelled: the record still ends
            if outcome is None:
                logger.info("%s cancelled: %s", TOOL_NAME, run.reason or "the server stopped")
                if run.refused:
                    outcome = text_result(T.NOT_STARTED_TEXT, is_error=True)
                else:
                    reason = run.reason or "the server stopped"
                    outcome = self.results.cancelled(reason, run.partial, include_reasoning)
            final = run.record.advanced(
                state="finished",
                stage="done",
                message="done",
                result=outcome.model_dump(mode="json", by_alias=True, exclude_none=True),
                finished_at=time.time(),
            )
            with anyio.CancelScope(shield=True):
                await self._publish(run, final)
            run.outcome = outcome
            run.finished.set()

    async def _publish(self, run: _LiveRun, record: RunRecord) -> None:
        run.record = record
        await self.local.put(record)
        run.changed.set()

    async def _stage(self, run: _LiveRun, stage: str, message: str | None = None) -> None:
        await self._publish(run, run.record.advanced(stage=stage, message=message or stage))
        for report in list(run.listeners):
            await report(stage, message)

    async def _run(self, question: str, include_reasoning: bool, run: _LiveRun, call: CallRecord) -> CallToolResult:
        call.waiting()
        if self.slots.value == 0:
            if not self.accepting:  # accepted just before shutdown began, and would have to wait
                call.failed("ShuttingDown")
                return text_result(T.NOT_STARTED_TEXT, is_error=True)
            run.queued = True
            await self._stage(
                run,
                "waiting for a free slot",
                f"waiting for a free slot (at most {self.max_concurrency} concurrent calls)",
            )
        async with self.slots:
            run.started = True
            call.running()
            await self._stage(run, "sending the question to Qwen")
            tracker = StageTracker()
            try:
                async with self.client.stream(question) as stream:
                    try:
                        async for event in stream:
                            stage = tracker.update(event)
                            # "connected" is followed at once by the first content stage, and "done" by
                            # the result itself: neither is worth a notification.
                            if is_work_stage(stage):
                                await self._stage(run, stage)
                    except anyio.get_cancelled_exc_class():
                        run.partial = stream.snapshot()
                        raise
                    result = await stream.get_final_result()
            except QwenCIError as err:
                call.failed(err)
                return self.results.failure(err, include_reasoning)
            except Exception as exc:
                # Not a service failure: a bug here. Its text is not shown (it could carry anything);
                # the traceback goes to the server's log.
                logger.exception("%s raised unexpectedly", TOOL_NAME)
                call.failed(exc)
                return text_result(T.unexpected_failure_text(type(exc).__name__), is_error=True)
        call.finished(result)
        return self.results.success(result, include_reasoning)

    # -- the shared store -------------------------------------------------------------------

    async def _write_shared(self, run: _LiveRun, shared: RunStore) -> None:
        """Copy the run's newest record to the shared store until its final one is written."""
        while True:
            await run.changed.wait()
            run.changed = anyio.Event()  # before reading: a later change sets the new event
            record = run.record
            if record.version > run.written:
                with anyio.move_on_after(_STORE_WRITE_TIMEOUT) as timer:
                    try:
                        await shared.put(record)
                        run.written = record.version
                        self.link.ok()
                    except StoreUnavailable as exc:
                        self.link.failed("write", exc)
                if timer.cancelled_caught:
                    self.link.failed("write", StoreUnavailable(f"no answer within {_STORE_WRITE_TIMEOUT:g} s"))
            if record.state == "finished":
                return

    async def forward_cancel(self, principal: str, request_id: str) -> None:
        """Send a cancel that matched no request here to the other replicas."""
        await self.link.forward_cancel(principal, request_id)

    async def listen_for_cancels(self, cancel: Callable[[str, str], Any]) -> None:
        """Call *cancel* for every cancel another replica forwards, for as long as the server runs."""
        await self.link.listen_for_cancels(cancel)

    # -- shutting down --------------------------------------------------------------------------

    async def drain(
        self, grace: float | Deadline, admitted: Callable[[], Awaitable[None]] | None = None, *, polls: bool = False
    ) -> None:
        """Refuse new calls and queued ones, let runs end until the runs' part of the grace is over,
        then cancel the rest; return once every final record is delivered, or when the grace is.

        *grace* is the shutdown's :class:`~.deadline.Deadline` (or its grace in seconds, starting
        now). *admitted* returns once every call a transport let in before the drain began has
        registered its run (the HTTP gate's): those are waited for as runs are. A final record is
        delivered when it is handed to the calls and polls waiting here and written to the shared
        store. A cancelled run ends with an error result that keeps its partial record. *polls*: the
        transport serves the result tool while draining (HTTP); then, without a shared store, the
        results answered with a handle are also held until polled (``handles``), within the runs' grace.
        """
        deadline = grace if isinstance(grace, Deadline) else Deadline(grace)
        self.accepting = False
        if admitted is not None:
            with anyio.move_on_after(deadline.runs_left()):
                await admitted()
        for run in list(self.live.values()):
            if run.queued and not run.started:
                run.refused = True
                run.cancel("the server is shutting down; the call had not started")
        with anyio.move_on_after(deadline.runs_left()):
            while self.live:
                await self._run_ended.wait()
        for run in list(self.live.values()):
            run.cancel(f"the server is shutting down (it let running calls finish for {deadline.runs_grace:g} s)")
        with anyio.move_on_after(deadline.left()):
            while self.live:
                await self._run_ended.wait()
        if self.live:
            logger.warning(
                "%d runs not delivered by the end of the %g s grace; exiting anyway", len(self.live), deadline.grace
            )
        elif polls and self.shared is None:
            await self.handles.wait(deadline)
        self._drained.set()

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.shared is not None:
            await self.shared.aclose()
