"""The engine of one server replica: event-driven dispatch, leased runs with heartbeats, and a recovery sweep.

Within a replica, a finished run promotes its downstreams in the same transaction and wakes the dispatcher,
which claims them at once; the periodic sweep only recovers expired leases, fails overdue runs and picks up
work submitted or released by other replicas. No transaction is ever open while a subtask's code runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from obcp import audit, tracing
from obcp.engine import logs, store
from obcp.engine.context import Context
from obcp.engine.health import MetadbHealth
from obcp.engine.hooks import SettleListener
from obcp.engine.instruments import EngineMetrics
from obcp.engine.locks import ResourceLock
from obcp.engine.queries import task_state
from obcp.engine.runs import Run, noop, outcome_of, patient_with_metadb
from obcp.engine.settings import EngineSettings
from obcp.engine.states import Operation, TaskState
from obcp.engine.template import RunContext, Subtask, Template, lookup, registered_keys
from obcp.meta.db import Database, metadb_unreachable, now_ms

log = logging.getLogger("obcp.engine")
R = TypeVar("R")


class Engine:
    def __init__(
        self,
        db: Database,
        server_id: str,
        settings: EngineSettings | None = None,
        services: object = None,
        metrics: EngineMetrics | None = None,
        on_settled: SettleListener | None = None,
    ) -> None:
        self.db = db
        self.server_id = server_id
        self.settings = settings or EngineSettings()
        # Subtasks reach the metadb and their layer's clients through these, never through globals.
        self.services = services
        self._runs: dict[int, Run] = {}
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._started = False
        # Held while live logs are flushed: a run's log row is created by whichever write comes first.
        self._log_lock = asyncio.Lock()
        # Set when this replica left READY work unclaimed for lack of room: a freed slot must look for it.
        self._saturated = False
        self.health = MetadbHealth()
        self.metrics = metrics or EngineMetrics()
        self.metrics.watch(self._runs)
        # Told, in the settling transaction, of each task that enters FAILED or SUCCESSFUL (hooks.py).
        self.on_settled = on_settled

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        load_modules(self.settings.modules)
        logs.install()
        self._stopping = False
        self._started = True
        # Runs this server id held before a crash cannot be alive: recover them now, not after the lease.
        await self._recover(owner_restarted=self.server_id)
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="obcp-engine-dispatch"),
            asyncio.create_task(self._heartbeat_loop(), name="obcp-engine-heartbeat"),
            asyncio.create_task(self._sweep_loop(), name="obcp-engine-sweep"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Interrupt local runs and record them as a crash would be (re-run or FAILED), then stop."""
        self._stopping = True
        for run in list(self._runs.values()):
            self._interrupt(run, "shutdown")
        outers = [r.outer for r in self._runs.values() if r.outer is not None]
        if outers:
            await asyncio.wait(outers, timeout=grace)
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        self._started = False

    # --- public API used by the operations layer and the task routes -------------------------------------

    async def submit(
        self,
        template: Template,
        context: Context | None = None,
        *,
        creator: str,
        creator_id: int | None = None,
        locks: list[ResourceLock] | tuple[ResourceLock, ...] = (),
        cluster_id: int | None = None,
        tenant_id: int | None = None,
        host_id: int | None = None,
        trace_id: str | None = None,
        name: str | None = None,
    ) -> int:
        """Create the task whole (task, subtasks, edges and locks in one transaction) and start its roots."""
        sub = store.Submission(
            template=template,
            context=context or Context(),
            creator=creator,
            creator_id=creator_id,
            executor=self.server_id,
            locks=tuple(locks),
            cluster_id=cluster_id,
            tenant_id=tenant_id,
            host_id=host_id,
            trace_id=trace_id,
            name=name,
        )
        entry = audit.pending()  # the caller's audit entry: the submission is the call's change

        def create(conn: Connection) -> int:
            task_id = store.submit(conn, sub)
            audit.record_in(conn, entry, details={"taskId": task_id})
            return task_id

        task_id = await self._tx(create)
        self.kick()
        return task_id

    async def retry_task(self, task_id: int) -> None:
        await self._act(lambda c: store.retry_task(c, task_id))

    async def rollback_task(self, task_id: int) -> None:
        await self._act(lambda c: store.rollback_task(c, task_id))

    async def retry_subtask(self, task_id: int, sid: int) -> None:
        await self._act(lambda c: store.retry_subtask(c, task_id, sid), {"subtaskId": sid})

    async def skip_subtask(self, task_id: int, sid: int, by: str) -> None:
        await self._act(lambda c: store.skip_subtask(c, task_id, sid, by), {"subtaskId": sid})

    async def cancel_subtask(self, task_id: int, sid: int) -> None:
        await self._tx(audit.audited(lambda c: store.cancel_subtask(c, task_id, sid), {"subtaskId": sid}))
        run = self._runs.get(sid)
        if run is not None:  # ours: interrupt now rather than at the next heartbeat
            self._interrupt(run, "cancel")

    async def _act(
        self, action: Callable[[Connection], object], details: dict[str, Any] | None = None
    ) -> None:
        """An operator's action (with the caller's audit event), then the dispatcher woken for what it made
        READY."""
        await self._tx(audit.audited(action, details))
        self.kick()
        await self._changed_notify()

    def _tx(self, fn: Callable[[Connection], R]) -> Awaitable[R]:
        return store.in_tx(self.db, fn, on_settled=self.on_settled)

    def kick(self) -> None:
        self._wake.set()

    async def wait_task(self, task_id: int, seconds: float = 30.0) -> str:
        """Until the task is no longer RUNNING (for tests and tools); returns its state."""
        deadline = time.monotonic() + seconds
        while True:
            async with self.db.read() as conn:
                state = await task_state(conn, task_id)
            if state != TaskState.RUNNING:
                return str(state)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"task {task_id} still RUNNING after {seconds}s")
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait(), timeout=min(remaining, self.settings.sweep_seconds)
                    )

    # --- dispatch -----------------------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.sweep_seconds)
            self._wake.clear()
            try:
                await self._dispatch()
                self.health.succeeded()
            except Exception as exc:
                self.health.failed("engine dispatch", exc)
                await asyncio.sleep(0.5)

    async def _dispatch(self) -> None:
        classes = registered_keys()
        while not self._stopping:
            room = self.settings.max_running - len(self._runs)
            if room <= 0:
                self._saturated = True
                return
            candidates = await store.ready_candidates(self.db, classes, self._runs.keys(), min(room, 32))
            if not candidates:
                self._saturated = False
                return
            claimed_any = False
            for sid, version in candidates:
                claimed = await self._claim(sid, version)
                if claimed is not None:
                    self._start_run(claimed)
                    claimed_any = True
            if not claimed_any:
                # Other replicas took them; their completions (or the sweep) wake us for what follows.
                return

    async def _claim(self, sid: int, version: int) -> store.Claimed | None:
        lease_ms = int(self.settings.lease_seconds * 1000)
        try:
            return await self._tx(lambda c: store.claim(c, sid, version, self.server_id, lease_ms))
        except Exception as exc:
            self.health.failed(f"claiming subtask {sid}", exc)
            return None

    def _start_run(self, claimed: store.Claimed) -> None:
        runlog = logs.RunLog(claimed.id, claimed.context.secret_values())
        run = Run(claimed, runlog)
        self._runs[claimed.id] = run
        self.metrics.claimed(claimed)
        run.outer = asyncio.create_task(self._execute(run), name=f"obcp-subtask-{claimed.id}")

    async def _execute(self, run: Run) -> None:
        c = run.claimed
        cls = lookup(c.class_name)
        token = logs.current_run.set(run.runlog)
        bound, started = tracing.bind_run(c.trace_id, c.task_id, c.id, c.run_time), time.monotonic()
        logger = logs.subtask_logger(cls.__name__ if cls else c.class_name)
        try:
            outcome = await self._run_body(run, cls, logger)
        except asyncio.CancelledError:
            outcome = store.Outcome(False, "interrupted")
            run.reason = run.reason or "shutdown"
        except Exception as exc:  # the engine's own failure to start the run
            logger.exception("Subtask %s could not run", c.id)
            outcome = store.Outcome(False, f"{type(exc).__name__}: {exc}")
        finally:
            logs.current_run.reset(token)
        try:
            await self._record(run, outcome)
        finally:
            self.metrics.ran(cls.name if cls else c.name, time.monotonic() - started, outcome, run.reason)
            tracing.unbind(bound)
            self._runs.pop(c.id, None)
            if self._saturated or run.reason is not None:
                self.kick()

    async def _run_body(self, run: Run, cls: type[Subtask] | None, logger: logging.Logger) -> store.Outcome:
        """Run the subtask's code (or its rollback) until it ends, times out or is interrupted."""
        c = run.claimed
        ctx = c.context
        ctx.put("task_operation", c.operation.lower())
        ctx.put("sub_task_instance_id", c.id)
        logger.info("Run subtask, id=%s, context=%s, executor=%s", c.id, ctx.java_string(), self.server_id)
        if cls is None:
            raise RuntimeError(f"subtask class {c.class_name} is not known to this server")
        rc = RunContext(
            ctx, c.task_id, c.id, c.run_time, c.operation, logger, self.db, self.services, c.params
        )
        instance = cls()
        if c.operation == Operation.ROLLBACK.value:
            body = instance.rollback(rc) if cls.can_rollback else noop()
        elif c.operation in (Operation.SKIP.value, Operation.CANCEL.value):
            body = noop()
        elif cls.continue_after_crash:
            body = patient_with_metadb(lambda: instance.run(rc), logger)
        else:
            body = instance.run(rc)
        run.inner = asyncio.create_task(body)
        left = max(0.0, c.timeout - (now_ms() - c.started_at) / 1000)
        done, _ = await asyncio.wait({run.inner}, timeout=left)
        if not done:
            run.reason = run.reason or "timeout"
            run.inner.cancel()
            with contextlib.suppress(BaseException):
                await run.inner
        return outcome_of(run, logger)

    async def _record(self, run: Run, outcome: store.Outcome) -> None:
        c = run.claimed
        run.finishing = True
        if c.log_id is None and self._log_lock.locked():
            async with self._log_lock:  # a flush in flight may be creating this run's log row
                pass
        if run.reason == "lost":
            return  # another replica owns it now; any write of ours would be refused by the fence anyway
        if run.reason == "shutdown":
            await self._hand_over(run)
            await self.metrics.settled(self.db, c.task_id)
            return
        written = await self._write_result(run, outcome)
        if written is None:
            return
        done, room = written
        if not done.won:
            self.metrics.refused("result")
            log.warning("subtask %s: result not recorded, the run was taken over (fenced)", c.id)
            return
        self._runs.pop(c.id, None)
        for claimed in done.claimed:
            self._start_run(claimed)
        if len(done.claimed) >= room:
            self._saturated = True
        if done.task_state != TaskState.RUNNING.value:
            await self.metrics.settled(self.db, c.task_id, done.task_state)
            await self._changed_notify()

    async def _hand_over(self, run: Run) -> None:
        """As a crash, but at once: safe-to-repeat runs go back to READY for any replica, the others to
        FAILED. With the metadb away the lease simply runs out, and the run is recovered as after a crash."""
        c = run.claimed
        run.runlog.add("Interrupted: the server is shutting down")
        await self._flush(run)
        reason = "interrupted: the server running it stopped"
        try:
            await self._tx(lambda conn: store.interrupt(conn, c.id, c.version, c.task_id, reason))
        except Exception as exc:
            self.health.failed(f"handing subtask {c.id} over", exc)

    async def _write_result(self, run: Run, outcome: store.Outcome) -> tuple[store.Finished, int] | None:
        """The fenced result write, and the room it claimed downstreams for. While the metadb is away it
        waits for it (the heartbeat keeps renewing the lease once it is back); None when it gives up: after
        five failures of another kind, or when the server is stopping."""
        c = run.claimed
        lease_ms = int(self.settings.lease_seconds * 1000)
        classes = frozenset(registered_keys())
        attempt = 0
        while True:
            # This run's slot is free again; take over what it unblocked, in the same transaction.
            room = 0 if self._stopping else max(0, self.settings.max_running - len(self._runs) + 1)
            text = run.runlog.text()

            def write(conn: Connection, room: int = room, text: str = text) -> store.Finished:
                return store.finish(
                    conn,
                    c,
                    self.server_id,
                    outcome,
                    text,
                    claim_room=room,
                    lease_ms=lease_ms,
                    classes=classes,
                )

            try:
                done = await self._tx(write)
            except Exception as exc:
                attempt += 1
                self.health.failed(f"recording the result of subtask {c.id} (attempt {attempt})", exc)
                if attempt >= 5 and (self._stopping or not metadb_unreachable(exc)):
                    return None
                await asyncio.sleep(min(1.0, 0.2 * attempt))
                continue
            self.health.succeeded()
            return done, room

    def _interrupt(self, run: Run, reason: str) -> None:
        if run.reason is None:
            run.reason = reason
        if run.inner is not None and not run.inner.done():
            run.inner.cancel()
        elif run.outer is not None and not run.outer.done() and run.inner is None:
            run.outer.cancel()

    async def _changed_notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- heartbeat and live logs ---------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        last_beat = 0.0
        while not self._stopping:
            await asyncio.sleep(self.settings.log_flush_seconds)
            try:
                due = time.monotonic() - last_beat >= self.settings.heartbeat_seconds
                await self._beat(due)
                if due:
                    last_beat = time.monotonic()
            except Exception as exc:
                self.health.failed("engine heartbeat", exc)

    async def _beat(self, extend: bool) -> None:
        runs = {sid: r for sid, r in self._runs.items() if r.reason is None}
        dirty = [r for r in runs.values() if r.runlog.dirty and not r.finishing]
        if not runs or (not extend and not dirty):
            return
        lease_ms = int(self.settings.lease_seconds * 1000)

        def work(conn: Any) -> tuple[set[int], set[int]]:
            for r in dirty:
                r.runlog.dirty = False
                store.save_run_log(conn, r.claimed, r.runlog.text())
            if not extend:
                return set(), set()
            versions = {s: r.claimed.version for s, r in runs.items()}
            return store.heartbeat(conn, self.server_id, versions, lease_ms)

        async with self._log_lock:
            lost, canceling = await self._tx(work)
        self.health.succeeded()
        for sid in lost:
            if sid in self._runs:
                self.metrics.refused("heartbeat")
                log.warning("subtask %s: lease lost, stopping the local run", sid)
                self._interrupt(self._runs[sid], "lost")
        for sid in canceling:
            if sid in self._runs:
                self._interrupt(self._runs[sid], "cancel")

    async def _flush(self, run: Run) -> None:
        # Behind the heartbeat's own flush: one in flight holds an older text of this log and would
        # otherwise overwrite ours after we wrote it.
        async with self._log_lock:
            with contextlib.suppress(Exception):
                await self._tx(lambda c: store.save_run_log(c, run.claimed, run.runlog.text()))

    # --- sweep ----------------------------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self._recover()
                await self._fail_overdue()
                self.health.succeeded()
            except Exception as exc:
                self.health.failed("engine sweep", exc)
            self.kick()

    async def _recover(self, owner_restarted: str | None = None) -> None:
        if owner_restarted is None and not self.health.steady_for(self.settings.lease_seconds):
            # Back from an outage, every lease looks expired: their owners renew them first (see `health`).
            return
        rows = await store.expired(self.db, owner_restarted)
        for row in rows:
            if row.id in self._runs:
                continue
            reason = f"interrupted: the server running it ({row.owner}) stopped before the subtask finished"
            taken = partial(
                store.interrupt, sid=row.id, version=row.version, task_id=row.task_id, reason=reason
            )
            if await self._tx(taken):
                await self.metrics.taken_over(self.db, row.task_id)
        if rows:
            self.kick()
            await self._changed_notify()

    async def _fail_overdue(self) -> None:
        grace = int(self.settings.timeout_grace_seconds * 1000)
        for row in await store.overdue(self.db, grace):
            if row.id in self._runs:
                continue  # ours: the local timer handles it
            taken = await self._tx(
                partial(
                    store.interrupt,
                    sid=row.id,
                    version=row.version,
                    task_id=row.task_id,
                    reason="timeout: the subtask ran past its deadline",
                    timed_out=True,
                ),
            )
            if taken:
                await self.metrics.taken_over(self.db, row.task_id)


def load_modules(names: str = "") -> None:
    """Import the modules (a comma list) that register subtask classes."""
    for name in (m.strip() for m in names.split(",")):
        if name:
            importlib.import_module(name)
