"""The task event stream outlives a metadb that does not answer (down, or its pool busy past its timeout):
it says so once, as a comment naming the error's class, and goes on to the task's final event when the
metadb answers again (it ended in an unhandled error before: bench/fleet's watchers saw hundreds of broken
streams in one round)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.sse import ServerSentEvent
from sqlalchemy.exc import TimeoutError as PoolTimeout

from obcp.api.routes import task_events
from obcp.engine import Context, Engine, EngineSettings, TemplateBuilder, task_signature
from obcp.engine.testing import NoopStep
from obcp.iam.store import Principal
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade


async def test_the_stream_waits_for_the_metadb_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = Database(url)
    monkeypatch.setattr(task_events, "POLL_SECONDS", 0.02)
    real = task_signature
    looks = 0

    def unreachable_for_a_while(conn: Any, task_id: int) -> Any:
        nonlocal looks
        looks += 1
        if 2 <= looks <= 6:  # after the first event, five looks meet a busy pool
            raise PoolTimeout("QueuePool limit of size 30 overflow 0 reached, connection timed out")
        return real(conn, task_id)

    monkeypatch.setattr(task_events, "task_signature", unreachable_for_a_while)
    engine = Engine(db, "t", EngineSettings(sweep_seconds=0.05))
    seen: list[ServerSentEvent] = []
    try:
        task_id = await engine.submit(TemplateBuilder("One").then(NoopStep).build(), Context(), creator="t")
        events = task_events.task_events(db, Principal(1, "admin", ()), task_id)
        stream = cast(AsyncGenerator[ServerSentEvent, None], events)
        async for event in stream:
            seen.append(event)
            if event.comment is not None:
                await engine.start()  # the task moves while the metadb does not answer
            if event.event == "task" and '"status": "SUCCESSFUL"' in (event.raw_data or ""):
                break
        await stream.aclose()
    finally:
        await engine.stop()
        await db.dispose()
    kinds = [e.event or f"comment: {e.comment}" for e in seen]
    assert kinds[0] == "task" and kinds[-1] == "task", kinds
    waits = [k for k in kinds if k.startswith("comment")]
    assert waits == ["comment: metadb unreachable (TimeoutError): waiting for it"], kinds
    assert looks > 6
