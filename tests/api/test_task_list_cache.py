"""Task list items are kept by their task's signature: a page reads again, and encodes again, only the
tasks that changed, and is byte for byte the page encoded from the tasks read anew (bench/fleet's pollers
ask a page of ten running restarts, 2,360 subtasks, several times a second)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from obcp.api import task_list_views
from obcp.api.paging import PageQuery
from obcp.api.task_list_views import encoded_items_page, encoded_page, page_items
from obcp.engine import (
    Context,
    Engine,
    EngineSettings,
    RunContext,
    Subtask,
    TaskFilter,
    TemplateBuilder,
    list_tasks,
    load_list_items,
    register,
    task_page,
    task_signature,
    task_signatures,
)
from obcp.engine.testing import NoopStep
from obcp.meta import inventory
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade

EVERY = TaskFilter(None, None, None, None, None, None)


@register
class _PausedStep(Subtask):
    """Runs until the test lets it go, so one task of the page changes while the others do not."""

    key = "obcp.test.listcache.PausedStep"
    name = "Paused test step"
    timeout = 60
    go = asyncio.Event()

    async def run(self, ctx: RunContext) -> None:
        await self.go.wait()


async def _page(db: Database) -> tuple[bytes, bytes]:
    """The page as the route encodes it (kept items) and as encoded from the tasks read anew."""
    pager = PageQuery(1, 10, None)
    async with db.read() as conn:
        total, ids = await task_page(conn, EVERY, pager)
        kept = encoded_items_page(
            await page_items(db, conn, ids, inventory.cluster_briefs), pager.result_page(total)
        )
        total, tasks = await list_tasks(conn, EVERY, pager, inventory.cluster_briefs)
    return kept.body, encoded_page(tasks, pager.result_page(total)).body


async def test_a_page_reads_only_the_tasks_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    loaded: list[list[int]] = []
    real = load_list_items

    async def counting(conn: Any, ids: list[int], clusters: Any) -> Any:
        loaded.append(sorted(ids))
        return await real(conn, ids, clusters)

    monkeypatch.setattr(task_list_views, "load_list_items", counting)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    _PausedStep.go = asyncio.Event()
    try:
        quiet = [
            await engine.submit(TemplateBuilder(f"Quiet {n}").then(NoopStep).build(), Context(), creator="t")
            for n in range(3)
        ]
        moving = await engine.submit(
            TemplateBuilder("Moving").then(_PausedStep).then(NoopStep).build(), Context(), creator="t"
        )
        await engine.start()
        for task_id in quiet:
            assert await engine.wait_task(task_id, 20) == "SUCCESSFUL"
        kept, whole = await _page(db)
        assert kept == whole and loaded == [sorted([*quiet, moving])]
        loaded.clear()
        kept, whole = await _page(db)
        assert kept == whole and loaded == [], "an unchanged page read its tasks again"
        _PausedStep.go.set()
        assert await engine.wait_task(moving, 20) == "SUCCESSFUL"
        kept, whole = await _page(db)
        assert kept == whole and loaded == [[moving]], loaded
        assert b'"name":"Moving"' in kept and kept.count(b'"status":"SUCCESSFUL"') >= 4
    finally:
        _PausedStep.go.set()
        await engine.stop()
        await db.dispose()


async def test_signatures_of_a_page_are_each_tasks_signature(metadb_url: str) -> None:
    upgrade(metadb_url)
    db = Database(metadb_url)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    try:
        fan = TemplateBuilder("Fan").then(NoopStep).then(NoopStep).build()
        ids = [await engine.submit(fan, Context(), creator="t") for _ in range(2)]
        async with db.read() as conn:
            together = await task_signatures(conn, [*ids, 10**9])
            alone = {i: await conn.run_sync(task_signature, i) for i in ids}
        assert together == alone and set(together) == set(ids)
        await engine.start()
        assert await engine.wait_task(ids[0], 20) == "SUCCESSFUL"
        async with db.read() as conn:
            after = await task_signatures(conn, ids[:1])
        # The first claim, then each finish (the second claim in the first's transaction): each bumped it.
        assert after[ids[0]].version >= together[ids[0]].version + 3
        assert after[ids[0]].state == "SUCCESSFUL"
    finally:
        await engine.stop()
        await db.dispose()
