"""`reload_task` reads again only the subtask rows whose key moved, names them, and leaves out rows deleted
since (what the followed-task views build on: bench/fleet)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, update

from obcp.engine import (
    Context,
    Engine,
    EngineSettings,
    TemplateBuilder,
    load_task,
    no_clusters,
    reload_task,
)
from obcp.engine.testing import NoopStep
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade
from obcp.meta.task_tables import subtask_instance

S = subtask_instance.c


async def test_only_moved_rows_are_read_again_and_deleted_ones_left_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    engine = Engine(db, "t", EngineSettings())
    ctx = Context()
    ctx.put_list("items", ["a", "b", "c"])
    try:
        template = TemplateBuilder("Fan-out").then(NoopStep).then(NoopStep, split_key="items").wait().build()
        task_id = await engine.submit(template, ctx, creator="t")
        async with db.read() as conn:
            first = await reload_task(conn, task_id, no_clusters, None)
            assert first is not None and first.changed is None
            ids = list(first.known.keys)
            assert ids == [s.id for s in first.data.subtasks] and len(ids) == 5
            same = await reload_task(conn, task_id, no_clusters, first.known)
            assert same is not None and same.changed == frozenset()
            assert same.data.subtasks == first.data.subtasks
        async with db.tx() as conn:
            await conn.execute(
                update(subtask_instance).where(S.id == ids[2]).values(updated_at=S.updated_at + 1)
            )
        async with db.read() as conn:
            moved = await reload_task(conn, task_id, no_clusters, same.known)
            whole = await load_task(conn, task_id, no_clusters)
        assert moved is not None and moved.changed == frozenset({ids[2]})
        assert [tuple(s) for s in moved.data.subtasks] == [tuple(s) for s in whole.subtasks]
        async with db.tx() as conn:
            await conn.execute(delete(subtask_instance).where(S.id.in_([ids[3], ids[4]])))
            await conn.execute(
                update(subtask_instance).where(S.id == ids[0]).values(updated_at=S.updated_at + 1)
            )
        async with db.read() as conn:
            # ids[3] was kept (unchanged) and is gone; ids[0] moved.
            after = await reload_task(conn, task_id, no_clusters, moved.known)
        assert after is not None and after.changed == frozenset({ids[0]})
        assert [s.id for s in after.data.subtasks] == ids[:3] and list(after.known.keys) == ids[:3]
        assert set(after.known.rows) == set(ids[:3])
    finally:
        await engine.stop()
        await db.dispose()
