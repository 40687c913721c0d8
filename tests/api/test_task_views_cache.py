"""Task views are rendered again exactly when the task changed (the cache that lets many followers of one task
share a rendering: bench/fleet)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from obcp.api import task_views_cache
from obcp.api.envelope import dumps
from obcp.api.task_event_views import task_event_data
from obcp.engine import (
    Context,
    Engine,
    EngineSettings,
    RunContext,
    Subtask,
    TemplateBuilder,
    load_task,
    register,
    reload_task,
    subtask_json,
    task_signature,
    wrapped_json,
)
from obcp.engine.testing import NoopStep
from obcp.errors import ObcpError
from obcp.meta import inventory
from obcp.meta.db import Database, now_ms
from obcp.meta.migrate import upgrade
from obcp.meta.tables import ob_cluster


async def test_a_view_is_rendered_again_when_its_task_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    rendered: list[int] = []
    real = reload_task

    async def counting(conn: Any, task_id: int, clusters: Any, known: Any, **kw: Any) -> Any:
        rendered.append(task_id)
        return await real(conn, task_id, clusters, known, **kw)

    monkeypatch.setattr(task_views_cache, "reload_task", counting)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    try:
        task_id = await engine.submit(TemplateBuilder("One").then(NoopStep).build(), Context(), creator="t")
        first = json.loads((await task_views_cache.task_view(db, task_id)).body)
        again = json.loads((await task_views_cache.task_view(db, task_id)).body)
        assert first["status"] == again["status"] == "RUNNING" and rendered == [task_id]
        await engine.start()
        assert await engine.wait_task(task_id, 20) == "SUCCESSFUL"
        done = json.loads((await task_views_cache.task_view(db, task_id)).body)
        assert done["status"] == "SUCCESSFUL" and rendered == [task_id, task_id]
        assert [s["status"] for s in done["subtasks"]] == ["SUCCESSFUL"]
        with pytest.raises(ObcpError):
            await task_views_cache.task_view(db, task_id + 1)
    finally:
        await engine.stop()
        await db.dispose()


@register
class _SlowStep(Subtask):
    """Slow enough for a follower to see the fan-out between its transitions."""

    key = "obcp.test.views.SlowStep"
    name = "Slow test step"
    timeout = 60

    async def run(self, ctx: RunContext) -> None:
        await asyncio.sleep(0.1)


async def test_a_view_built_from_kept_subtasks_is_the_view_rendered_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At every change of a running fan-out the kept view is byte for byte `dumps(wrapped_json(...))` of
    the task read anew, and only the subtasks whose row changed are encoded again."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    encoded: list[int] = []
    real = subtask_json

    def counting(s: Any, data: Any) -> Any:
        encoded.append(s.id)
        return real(s, data)

    monkeypatch.setattr(task_views_cache, "subtask_json", counting)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05, max_running=2))
    ctx = Context()
    ctx.put_list("items", [str(n) for n in range(6)])
    try:
        fanout = TemplateBuilder("Fan-out").then(_SlowStep).then(_SlowStep, split_key="items").wait().build()
        task_id = await engine.submit(fanout, ctx, creator="t")
        first = await task_views_cache.task_view(db, task_id)
        subtasks = len(json.loads(first.body)["subtasks"])
        assert subtasks == 8 and len(encoded) == subtasks
        await engine.start()
        seen: list[bytes] = []
        mismatches = 0
        while True:
            encoded.clear()
            view = await task_views_cache.task_view(db, task_id)
            async with db.read() as conn:
                whole = dumps(wrapped_json(await load_task(conn, task_id, inventory.cluster_briefs)))
            if view.body != whole:  # the task moved on between the two reads: read both again
                mismatches += 1
                assert mismatches < 20, (view.body, whole)
                continue
            mismatches = 0
            if not seen or view.body != seen[-1]:
                seen.append(view.body)
                assert len(encoded) < subtasks or len(seen) == 1, "an unchanged subtask was encoded again"
            if json.loads(view.body)["status"] != "RUNNING":
                break
            await asyncio.sleep(0.01)
        assert json.loads(seen[-1])["status"] == "SUCCESSFUL" and len(seen) >= 3
    finally:
        await engine.stop()
        await db.dispose()


@register
class _RecordingStep(Subtask):
    """Records a START_SERVICE_TIME in the context it passes on, as the restart's steps do."""

    key = "obcp.test.views.RecordingStep"
    name = "Recording test step"
    timeout = 60

    async def run(self, ctx: RunContext) -> None:
        await asyncio.sleep(0.2)
        ctx.put(
            f"server.{ctx.parallel_idx + 100}.start_service_time_after", str(1_000_000 + ctx.parallel_idx)
        )


async def test_event_data_built_from_kept_subtasks_is_the_data_rendered_whole(tmp_path: Path) -> None:
    """At every change of a running fan-out the event kept for its watchers is what a watcher arriving then
    would be sent from nothing (a fresh metadb handle: nothing kept), service times included."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05, max_running=2))
    ctx = Context()
    ctx.put_list("items", [str(n) for n in range(5)])
    template = (
        TemplateBuilder("Fan-out").then(_SlowStep).then(_RecordingStep, split_key="items").wait().build()
    )
    try:
        task_id = await engine.submit(template, ctx, creator="t")
        await engine.start()
        seen: list[str] = []
        mismatches = 0
        while True:
            signature = await db.read_whole(lambda conn: task_signature(conn, task_id))
            assert signature is not None
            kept = await task_event_data(db, task_id, signature)
            fresh_db = Database(url)
            try:
                whole = await task_event_data(fresh_db, task_id, signature)
            finally:
                await fresh_db.dispose()
            assert kept is not None and whole is not None
            if kept != whole:  # the task moved on between the two reads: read both again
                mismatches += 1
                assert mismatches < 20, (kept, whole)
                continue
            mismatches = 0
            if not seen or kept != seen[-1]:
                seen.append(kept)
            if json.loads(kept)["status"] != "RUNNING":
                break
            await asyncio.sleep(0.01)
        last = json.loads(seen[-1])
        assert last["status"] == "SUCCESSFUL" and len(seen) >= 3
        assert last["outcome"]["serviceTimes"] == [
            {"serverId": 100 + i, "after": 1_000_000 + i} for i in range(5)
        ]
    finally:
        await engine.stop()
        await db.dispose()


async def test_a_renamed_cluster_shows_in_a_changed_view_once_its_name_is_old_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    now = now_ms()
    try:
        async with db.tx() as conn:
            await conn.execute(
                insert(ob_cluster).values(
                    id=7, name="before", ob_cluster_id=1, status="RUNNING", root_password_enc="x",
                    creator="t", created_at=now, updated_at=now,
                )
            )  # fmt: skip
        two = TemplateBuilder("Two").then(NoopStep).then(NoopStep).build()
        task_id = await engine.submit(two, Context(), creator="t", cluster_id=7)
        assert json.loads((await task_views_cache.task_view(db, task_id)).body)["cluster"]["name"] == "before"
        async with db.tx() as conn:
            await conn.execute(update(ob_cluster).where(ob_cluster.c.id == 7).values(name="after"))
        await engine.start()
        assert await engine.wait_task(task_id, 20) == "SUCCESSFUL"
        # Changed, but the cluster was read less than MAX_AGE_SECONDS ago: its name is kept.
        changed = json.loads((await task_views_cache.task_view(db, task_id)).body)
        assert changed["status"] == "SUCCESSFUL" and changed["cluster"]["name"] == "before"
        monkeypatch.setattr(task_views_cache, "MAX_AGE_SECONDS", 0.0)
        assert json.loads((await task_views_cache.task_view(db, task_id)).body)["cluster"]["name"] == "after"
    finally:
        await engine.stop()
        await db.dispose()
