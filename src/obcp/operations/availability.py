"""While an operation task runs, obcp probes every observer of the cluster and records the longest
interval in which none of them answered SQL — the outage the operation caused, as a client would see it.

One monitor per task, in the server process that runs the task's steps; it saves its figures in the metadb
every five seconds and whenever an outage begins or ends, so another replica (after a crash) resumes it and
the time nobody watched is counted apart (`unobserved_ms`) rather than passed off as availability (the up
to five seconds since the last save before a crash count as unobserved, although they were watched).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from obcp.engine import TaskState, task_state
from obcp.meta.db import Database, now_ms
from obcp.meta.inventory import ServerRef
from obcp.meta.tables import operation_availability
from obcp.ob.connection import Connector, ObTimeouts, open_connection
from obcp.ob.readiness import probe

log = logging.getLogger("obcp.availability")

# A probe that takes longer than this counts as no answer: clients would have timed out too.
PROBE_TIMEOUTS = ObTimeouts(connect=0.5, read=1.0)
A = operation_availability.c


@dataclass
class OutageRecorder:
    """The arithmetic: samples in time order; an outage runs from the first round with no answer to the
    first round with one."""

    samples: int = 0
    failed_samples: int = 0
    longest_ms: int = 0
    outage_since: int | None = None

    def add(self, at_ms: int, any_answered: bool) -> None:
        self.samples += 1
        if any_answered:
            if self.outage_since is not None:
                self.longest_ms = max(self.longest_ms, at_ms - self.outage_since)
                self.outage_since = None
            return
        self.failed_samples += 1
        if self.outage_since is None:
            self.outage_since = at_ms

    def longest_so_far(self, now: int) -> int:
        ongoing = now - self.outage_since if self.outage_since is not None else 0
        return max(self.longest_ms, ongoing)


@dataclass
class Availability:
    observers: int
    interval_ms: int
    samples: int
    failed_samples: int
    longest_outage_ms: int
    unobserved_ms: int
    finished: bool

    def describe(self) -> str:
        text = (
            f"longest interval with no observer answering SQL: {self.longest_outage_ms / 1000:.1f} s "
            f"({self.samples} probe rounds of {self.observers} observer(s) every {self.interval_ms} ms, "
            f"{self.failed_samples} without any answer)"
        )
        if self.unobserved_ms:
            text += f"; not watched for {self.unobserved_ms / 1000:.1f} s while no server ran the task"
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "longestOutageSeconds": round(self.longest_outage_ms / 1000, 3),
            "probeRounds": self.samples,
            "roundsWithoutAnswer": self.failed_samples,
            "probeIntervalMillis": self.interval_ms,
            "unobservedSeconds": round(self.unobserved_ms / 1000, 3),
            "observers": self.observers,
            "finished": self.finished,
        }


def row_availability(row: object) -> Availability:
    r = row
    return Availability(
        observers=r.observers,  # type: ignore[attr-defined]
        interval_ms=r.interval_ms,  # type: ignore[attr-defined]
        samples=r.samples,  # type: ignore[attr-defined]
        failed_samples=r.failed_samples,  # type: ignore[attr-defined]
        longest_outage_ms=r.longest_outage_ms,  # type: ignore[attr-defined]
        unobserved_ms=r.unobserved_ms,  # type: ignore[attr-defined]
        finished=r.finished_at is not None,  # type: ignore[attr-defined]
    )


@dataclass
class _Monitor:
    task_id: int
    refs: list[ServerRef]
    password: str
    recorder: OutageRecorder
    interval: float
    runner: asyncio.Task[None] | None = None
    # The observer that answered last: each round asks it first.
    answering: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class AvailabilityMonitors:
    def __init__(
        self,
        db: Database,
        interval: float = 0.2,
        save_every: float = 5.0,
        connect: Connector = open_connection,
    ) -> None:
        self.connect = connect
        self.db = db
        self.interval = interval
        self.save_every = save_every
        self._monitors: dict[int, _Monitor] = {}

    def watching(self, task_id: int) -> bool:
        return task_id in self._monitors

    async def ensure(self, task_id: int, cluster_id: int, refs: list[ServerRef], password: str) -> None:
        """Starts (or, on a replica taking over, resumes) the monitor of this task; a no-op when it runs."""
        if task_id in self._monitors or not refs:
            return
        now = now_ms()
        recorder = OutageRecorder()
        async with self.db.tx() as conn:
            row = (await conn.execute(select(operation_availability).where(A.task_id == task_id))).first()
            if row is not None and row.finished_at is not None:
                return
            if row is None:
                try:
                    await conn.execute(
                        insert(operation_availability).values(
                            task_id=task_id, cluster_id=cluster_id, observers=len(refs),
                            interval_ms=int(self.interval * 1000), samples=0, failed_samples=0,
                            longest_outage_ms=0, outage_since=None, unobserved_ms=0, started_at=now,
                            updated_at=now,
                        )
                    )  # fmt: skip
                except IntegrityError:
                    return
            else:
                # Resumed: what happened between the last save and now nobody saw.
                recorder = OutageRecorder(
                    row.samples, row.failed_samples, row.longest_outage_ms, row.outage_since
                )
                await conn.execute(
                    update(operation_availability)
                    .where(A.task_id == task_id)
                    .values(unobserved_ms=A.unobserved_ms + max(0, now - row.updated_at), updated_at=now)
                )
        monitor = _Monitor(task_id, refs, password, recorder, self.interval)
        monitor.runner = asyncio.create_task(self._run(monitor), name=f"obcp-availability-{task_id}")
        self._monitors[task_id] = monitor

    async def finish(self, task_id: int) -> Availability | None:
        """Stops the monitor, saves the final figure and returns it (None if none was ever started)."""
        monitor = self._monitors.pop(task_id, None)
        if monitor is not None and monitor.runner is not None:
            monitor.stopping.set()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor.runner
        async with self.db.tx() as conn:
            if monitor is not None:
                await self._save(conn, monitor, final=True)
            else:
                await conn.execute(
                    update(operation_availability)
                    .where(A.task_id == task_id, A.finished_at.is_(None))
                    .values(finished_at=now_ms(), updated_at=now_ms())
                )
            row = (await conn.execute(select(operation_availability).where(A.task_id == task_id))).first()
        return row_availability(row) if row is not None else None

    async def close(self) -> None:
        for task_id in list(self._monitors):
            monitor = self._monitors.pop(task_id)
            if monitor.runner is not None:
                monitor.runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitor.runner

    async def _run(self, m: _Monitor) -> None:
        last_save = time.monotonic()
        while not m.stopping.is_set():
            started = time.monotonic()
            at = now_ms()
            was = m.recorder.outage_since
            m.recorder.add(at, await self._any_answers(m))
            # An outage that begins or ends is saved at once (a replica taking over must know when it
            # began); between such rounds the sample counts wait for the periodic save, which costs a
            # transaction per running task (every second, 100 restarts at once made this 10 % of the
            # metadb's statements: bench/fleet).
            changed = m.recorder.outage_since != was
            if changed or time.monotonic() - last_save >= self.save_every:
                try:
                    async with self.db.tx() as conn:
                        await self._save(conn, m, final=False)
                        state = await task_state(conn, m.task_id)
                    last_save = time.monotonic()
                except Exception:  # the metadb may be busy; the next save catches up
                    log.warning("availability of task %s: could not save", m.task_id, exc_info=True)
                    continue
                if state != TaskState.RUNNING:
                    # A failed task waits for an operator: stop probing; a retry resumes the monitor and
                    # the wait counts as unobserved time.
                    self._monitors.pop(m.task_id, None)
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(m.stopping.wait(), max(0.0, m.interval - (time.monotonic() - started)))

    async def _any_answers(self, m: _Monitor) -> bool:
        """Whether any observer answers: the one that answered last is asked alone first, the others only
        when it does not (probing every observer every round cost 30 probes per 200 ms per task, most of a
        fleet-wide restart's CPU: bench/fleet)."""

        async def answers(ref: ServerRef) -> bool:
            result = await probe(
                ref.address, ref.sql_port, m.password, timeouts=PROBE_TIMEOUTS, connect=self.connect
            )
            return result.ok

        first = m.refs[m.answering]
        if await answers(first):
            return True
        others = [r for r in m.refs if r is not first]
        results = await asyncio.gather(*(answers(r) for r in others))
        for ref, ok in zip(others, results, strict=True):
            if ok:
                m.answering = m.refs.index(ref)
                return True
        return False

    async def _save(self, conn: object, m: _Monitor, *, final: bool) -> None:
        now = now_ms()
        r = m.recorder
        values: dict[str, object] = {
            "samples": r.samples,
            "failed_samples": r.failed_samples,
            "longest_outage_ms": r.longest_so_far(now) if final else r.longest_ms,
            "outage_since": None if final else r.outage_since,
            "updated_at": now,
        }
        if final:
            values["finished_at"] = now
        await conn.execute(update(operation_availability).where(A.task_id == m.task_id).values(**values))  # type: ignore[attr-defined]


async def last_outages(db: Database) -> dict[int, float]:
    """Per cluster, the longest outage (seconds) of its last finished monitored operation (a restart)."""
    last = (
        select(A.cluster_id, func.max(A.task_id).label("task_id"))
        .where(A.finished_at.is_not(None))
        .group_by(A.cluster_id)
        .subquery()
    )
    query = select(A.cluster_id, A.longest_outage_ms).join(last, A.task_id == last.c.task_id)
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return {int(r.cluster_id): r.longest_outage_ms / 1000 for r in rows}
