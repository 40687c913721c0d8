"""The answer to a submitted operation waits for a busy metadb instead of answering 503 for a task that was
created (found by bench/fleet: 100 submissions at once on one replica's connection pool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.engine import Context, Engine, TemplateBuilder
from obcp.engine.testing import NoopStep
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade
from obcp.operations import answers
from obcp.operations.lifecycle import Scope


class BusyFirst(Database):
    """The metadb whose first `busy` reads find no pooled connection in time."""

    def __init__(self, url: str, busy: int) -> None:
        super().__init__(url)
        self.busy = busy
        self.reads = 0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        self.reads += 1
        if self.busy > 0:
            self.busy -= 1
            raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached, connection timed out")
        async with super().read() as conn:
            yield conn


async def _task(db: Database) -> int:
    return await Engine(db, "t").submit(TemplateBuilder("One").then(NoopStep).build(), Context(), creator="t")


async def test_the_answer_waits_for_a_busy_metadb(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = BusyFirst(url, busy=2)
    try:
        task_id = await _task(db)
        answer: dict[str, Any] = await answers.task_answer(db, Scope.CLUSTER, task_id)
        assert answer["id"] == task_id and db.busy == 0 and db.reads == 3
    finally:
        await db.dispose()


async def test_an_unknown_task_is_not_waited_for(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    db = BusyFirst(url, busy=0)
    try:
        with pytest.raises(ObcpError) as refused:
            await answers.task_answer(db, Scope.CLUSTER, 999)
        assert refused.value.error_code == ErrorCode.TASK_NOT_FOUND and db.reads == 1
    finally:
        await db.dispose()
