"""Failover between real server replicas: SIGTERM hands running work over at once, and leases follow the
metadb's clock, so replicas whose own clocks are an hour apart neither steal each other's runs nor wait an
hour to take over a dead one's."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from obcp.engine import Context
from obcp.engine.testing import chain_template, handover_template, once_chain
from obcp.meta.db import Database
from obcp.meta.task_tables import subtask_instance
from tests.dbs import temporary_database

from .servers import Server, stop_all
from .test_processes import check_effects, prepare, submit, wait_settled

pytestmark = pytest.mark.slow

HOUR = 3600.0


async def subtasks(url: str, task_id: int) -> dict[str, Any]:
    """The task's subtasks by class key (one of each in the templates used here)."""
    s = subtask_instance.c
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(subtask_instance).where(s.task_id == task_id))).all()
    finally:
        await db.dispose()
    return {r.class_name: r for r in rows}


async def wait_for(url: str, task_id: int, key: str, test: Any, seconds: float = 60) -> Any:
    """Until the subtask of class `key` satisfies `test`; the deadline only stops a hung test."""
    deadline = time.monotonic() + seconds
    while True:
        row = (await subtasks(url, task_id)).get(key)
        if row is not None and test(row):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"subtask {key} of task {task_id} never got there: {row}")
        await asyncio.sleep(0.05)


def owner_of(servers: list[Server], executor: str) -> Server:
    return next(s for s in servers if executor.endswith(f":{s.port}"))


def long_run() -> Context:
    ctx = Context()
    ctx.put("sleep_ms", 60_000)
    ctx.put("record_at", "start")
    return ctx


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "sqlite"])
async def test_sigterm_hands_running_work_over(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as raw_url:
        url = str(raw_url)
        home = tmp_path / "home"
        prepare(url, home)
        servers = [Server(url, home) for _ in range(2)]
        first, other = servers
        try:
            # Both steps on one replica: with both replicas up, each may claim one of them.
            first.start()
            (tid,) = await submit(url, handover_template, 1, long_run())
            repeat = await wait_for(url, tid, "obcp.test.RepeatableStep", lambda r: r.state == "RUNNING")
            once = await wait_for(url, tid, "obcp.test.OnceStep", lambda r: r.state == "RUNNING")
            assert owner_of(servers, repeat.executor) is first and owner_of(servers, once.executor) is first
            other.start()
            first.terminate()
            assert first.proc is not None and first.proc.returncode == 0
            # Released, not left to expire: the other replica runs it again (its lease would have kept it
            # for two more seconds), the once-only step waits for an operator.
            again = await wait_for(
                url, tid, "obcp.test.RepeatableStep", lambda r: r.run_time == 2 and r.state == "RUNNING"
            )
            assert again.executor.endswith(f":{other.port}"), again.executor
            # The replica writes each run's hand-over in turn: the once-only one may land just after.
            once = await wait_for(url, tid, "obcp.test.OnceStep", lambda r: r.state != "RUNNING", seconds=10)
            assert (once.state, once.run_time) == ("FAILED", 1), once
            assert once.error.startswith("interrupted: the server running it stopped"), once.error
            log = other.get(f"/api/v2/tasks/instances/{tid}/subtasks/{repeat.id}/log")["log"]
            assert "Interrupted: the server is shutting down" in log, log
        finally:
            stop_all(servers)


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_replicas_with_clocks_an_hour_apart(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as raw_url:
        url = str(raw_url)
        home = tmp_path / "home"
        prepare(url, home)
        ahead = Server(url, home, clock_offset=HOUR)
        behind = Server(url, home, clock_offset=-HOUR)
        ahead.start()
        try:
            # A run of the replica that is ahead, longer than a lease: it renews, and when the replica dies
            # the one that is behind takes over in seconds, not in an hour.
            (tid,) = await submit(url, lambda: chain_template(1), 1, long_run())
            await wait_for(url, tid, "obcp.test.RepeatableStep", lambda r: r.state == "RUNNING")
            behind.start()
            await asyncio.sleep(3)  # longer than a lease: with each host's clock, `behind` would wait an hour
            ahead.kill()
            again = await wait_for(
                url, tid, "obcp.test.RepeatableStep", lambda r: r.run_time == 2 and r.state == "RUNNING"
            )
            assert again.executor.endswith(f":{behind.port}"), again.executor
            ahead.start()
            # Once-only runs longer than a lease on both: with each host's clock, `ahead` would see every
            # lease of `behind` as an hour overdue and take its runs away (FAILED, interrupted).
            ctx = Context()
            ctx.put("sleep_ms", 3000)
            ids = await submit(url, lambda: once_chain(2), 6, ctx)
            states = await wait_settled(url, ids, 120)
            assert set(states.values()) == {"SUCCESSFUL"}, states
            await check_effects(url, ids)
            # And the long run `behind` took over is still its own, in the same run.
            still = (await subtasks(url, tid))["obcp.test.RepeatableStep"]
            assert (still.state, still.run_time, still.executor) == ("RUNNING", 2, again.executor), still
        finally:
            stop_all([ahead, behind])
