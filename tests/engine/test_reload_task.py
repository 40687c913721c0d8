"""`reload_task` reads again only the subtask rows that changed since the task version its caller read, and
names them (what the followed-task views build on: bench/fleet). A follower reloading all the time while the
real engine runs, fails, retries, skips, rolls back and cancels must always end where a whole read does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from obcp.engine import (
    Context,
    Engine,
    EngineSettings,
    KnownTask,
    TemplateBuilder,
    load_task,
    no_clusters,
    reload_task,
)
from obcp.engine.testing import FailStep, NoopStep, RepeatableStep
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade


class _Follower:
    """Reloads one task as fast as it can, as a poller does, checking each reload against what it had."""

    def __init__(self, db: Database, task_id: int) -> None:
        self.db, self.task_id = db, task_id
        self.known: KnownTask | None = None
        self.reloads = 0
        self.partial = 0  # reloads that read some rows again, not none and not all
        self._stop = asyncio.Event()

    async def once(self) -> Any:
        async with self.db.read() as conn:
            before = self.known
            reloaded = await reload_task(conn, self.task_id, no_clusters, before)
        assert reloaded is not None
        if before is not None and reloaded.changed is not None:
            ids = list(reloaded.known.keys)
            assert ids == list(before.keys), "a subtask came or went"
            for sid in ids:
                if sid not in reloaded.changed:  # kept as it was
                    assert reloaded.known.rows[sid] is before.rows[sid]
            if 0 < len(reloaded.changed) < len(ids):
                self.partial += 1
        self.known = reloaded.known
        self.reloads += 1
        return reloaded

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.once()
            await asyncio.sleep(0.002)

    async def agrees(self) -> None:
        """One more reload from what it kept equals the task read whole."""
        reloaded = await self.once()
        async with self.db.read() as conn:
            whole = await load_task(conn, self.task_id, no_clusters)
        assert [_shown(s) for s in reloaded.data.subtasks] == [_shown(s) for s in whole.subtasks]
        assert tuple(reloaded.data.task) == tuple(whole.task)

    def stop(self) -> None:
        self._stop.set()


def _shown(row: Any) -> dict[str, Any]:
    # Every column but the lease's expiry and the count of upstreams it waits for, which no view shows.
    return {k: v for k, v in row._mapping.items() if k not in ("lease_expire_at", "waiting")}


async def _settled(engine: Engine, task_id: int, state: str) -> None:
    assert await engine.wait_task(task_id, 20) == state


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    try:
        yield engine
    finally:
        await engine.stop()
        await db.dispose()


async def test_a_follower_of_a_task_the_engine_works_on_always_ends_as_a_whole_read(engine: Engine) -> None:
    db = engine.db
    ctx = Context()
    ctx.put_list("items", ["a", "b", "c"])
    template = TemplateBuilder("Fan-out").then(NoopStep).then(FailStep, split_key="items").wait().build()
    task_id = await engine.submit(template, ctx, creator="t")
    follower = _Follower(db, task_id)
    await follower.once()
    following = asyncio.create_task(follower.run())
    await engine.start()
    await _settled(engine, task_id, "FAILED")
    await follower.agrees()
    failed = [s.id for s in (follower.known.rows.values() if follower.known else []) if s.state == "FAILED"]
    assert len(failed) == 3
    await engine.skip_subtask(task_id, failed[0], "t")
    await follower.agrees()
    await engine.retry_subtask(task_id, failed[1])
    await _settled(engine, task_id, "FAILED")
    await follower.agrees()
    await engine.rollback_task(task_id)
    await _settled(engine, task_id, "SUCCESSFUL")  # every step undone: all PENDING again
    await follower.agrees()
    follower.stop()
    await following
    assert follower.partial > 0, "no reload read only some of the rows again"


async def test_a_claim_and_a_cancel_are_seen_by_a_follower(engine: Engine) -> None:
    db = engine.db
    ctx = Context()
    ctx.put("sleep_ms", "60000")
    # The first step is claimed by the engine's dispatch, in a transaction of its own.
    template = TemplateBuilder("Long").then(RepeatableStep).then(NoopStep).build()
    task_id = await engine.submit(template, ctx, creator="t")
    follower = _Follower(db, task_id)
    first = await follower.once()
    sleeper = first.data.subtasks[0].id
    await engine.start()
    for _ in range(400):
        state = (await follower.once()).known.rows[sleeper].state
        if state == "RUNNING":
            break
        await asyncio.sleep(0.01)
    assert state == "RUNNING"
    await follower.agrees()
    await engine.cancel_subtask(task_id, sleeper)
    seen = (await follower.once()).known.rows[sleeper].state
    assert seen in ("CANCELING", "FAILED")
    await _settled(engine, task_id, "FAILED")
    await follower.agrees()
    assert follower.known is not None and follower.known.rows[sleeper].state == "FAILED"
