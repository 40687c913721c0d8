"""Task views are rendered again exactly when the task changed (the cache that lets many followers of one task
share a rendering: bench/fleet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obcp.api import task_views_cache
from obcp.engine import Context, Engine, EngineSettings, TemplateBuilder, load_task
from obcp.engine.testing import NoopStep
from obcp.errors import ObcpError
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade


async def test_a_view_is_rendered_again_when_its_task_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    rendered: list[int] = []
    real = load_task

    async def counting(conn: Any, task_id: int, clusters: Any) -> Any:
        rendered.append(task_id)
        return await real(conn, task_id, clusters)

    monkeypatch.setattr(task_views_cache, "load_task", counting)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    try:
        task_id = await engine.submit(TemplateBuilder("One").then(NoopStep).build(), Context(), creator="t")
        first = await task_views_cache.task_view(db, task_id)
        again = await task_views_cache.task_view(db, task_id)
        assert first["status"] == again["status"] == "RUNNING" and rendered == [task_id]
        await engine.start()
        assert await engine.wait_task(task_id, 20) == "SUCCESSFUL"
        done = await task_views_cache.task_view(db, task_id)
        assert done["status"] == "SUCCESSFUL" and rendered == [task_id, task_id]
        assert [s["status"] for s in done["subtasks"]] == ["SUCCESSFUL"]
        with pytest.raises(ObcpError):
            await task_views_cache.task_view(db, task_id + 1)
    finally:
        await engine.stop()
        await db.dispose()
