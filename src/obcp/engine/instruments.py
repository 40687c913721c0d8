"""The engine's Prometheus series, observed at points the scheduler passes anyway (a claim, a run's end, a
settled task, a takeover, a refused write), registered on the registry of the replica that owns the engine.

Every series counts what this replica did, so summing across replicas counts each event once: a task's
final state is counted by the replica whose transaction settled it, a run by the replica that ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Sized

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import select

from obcp.engine.states import TaskState
from obcp.engine.store.claims import Claimed
from obcp.engine.store.columns import T
from obcp.engine.store.results import Outcome
from obcp.meta.db import Database

RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
log = logging.getLogger("obcp.engine")

FINAL = frozenset({TaskState.SUCCESSFUL.value, TaskState.FAILED.value})


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # Without a registry (tests, benchmarks) the series are kept but exposed nowhere.
        r = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.tasks_finished = Counter(
            "obcp_tasks_finished",
            "Tasks that reached a final state, by template name and state, counted by the replica that"
            " settled them (a task retried after FAILED counts again when it settles again).",
            ["name", "state"],
            registry=r,
        )
        self.runs_active = Gauge(
            "obcp_engine_runs_active", "Subtask runs this replica is running.", registry=r
        )
        self.run_seconds = Histogram(
            "obcp_subtask_run_duration_seconds",
            "How long a subtask run took on this replica, by subtask name and result.",
            ["name", "result"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.ready_wait = Histogram(
            "obcp_subtask_ready_wait_seconds",
            "How long a READY subtask waited until this replica claimed it (RUNNING).",
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.takeovers = Counter(
            "obcp_engine_lease_takeovers",
            "Runs taken away from their owner by this replica: its lease expired (the replica died or"
            " stopped) or the run went past its deadline.",
            registry=r,
        )
        self.fenced = Counter(
            "obcp_engine_fenced_writes_refused",
            "Writes of this replica refused by the fence because another replica owns the run now.",
            ["write"],
            registry=r,
        )

    def watch(self, runs: Sized) -> None:
        self.runs_active.set_function(lambda: len(runs))

    def claimed(self, claimed: Claimed) -> None:
        self.ready_wait.observe(claimed.waited_ms / 1000)

    def ran(self, name: str, seconds: float, outcome: Outcome, reason: str | None) -> None:
        if outcome.ok:
            result = "successful"
        elif outcome.canceled:
            result = "canceled"
        elif reason in ("lost", "shutdown"):
            result = "interrupted"
        else:
            result = "timeout" if reason == "timeout" else "failed"
        self.run_seconds.labels(name, result).observe(seconds)
        # One line per run in the server's log (the run's own log has the details); its traceId, task,
        # subtask and run come from the context the scheduler bound.
        log.info("subtask %r ended: %s in %.3f s", name, result, seconds)

    def refused(self, write: str) -> None:
        self.fenced.labels(write).inc()

    async def settled(self, db: Database, task_id: int, state: str | None = None) -> None:
        """The task's state was settled by this replica just now: count it if that state is final."""
        if state is not None and state not in FINAL:
            return
        async with db.read() as conn:
            row = (await conn.execute(select(T.template, T.state).where(T.id == task_id))).first()
        if row is not None and row.state in FINAL:
            self.tasks_finished.labels(row.template, row.state).inc()

    async def taken_over(self, db: Database, task_id: int) -> None:
        self.takeovers.inc()
        await self.settled(db, task_id)
