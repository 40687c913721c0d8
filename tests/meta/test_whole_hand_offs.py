"""`Database.read_whole` and `Database.tx_whole` (a read or a write transaction run whole in one hand-off to
SQLAlchemy's greenlet) on each metadb engine: a whole transaction commits when its work returns and leaves
nothing when it raises; a whole read sees what was committed before it; and a `read()` that opens no
transaction (PostgreSQL, a SQLite file) still sees, statement by statement, what others committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from obcp.meta.db import Database


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM hand_off")).scalar_one())


def _insert(n: int, then_fail: bool = False) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO hand_off (n) VALUES (:n)"), {"n": n})
        if then_fail:
            raise ValueError("the work failed after its insert")
        return n

    return work


def test_whole_reads_and_transactions_on_each_engine(metadb_url: str) -> None:
    async def scenario() -> tuple[int, int, int, int, int]:
        db = Database(metadb_url)
        try:
            await db.tx_whole(lambda c: c.execute(text("CREATE TABLE hand_off (n INTEGER)")))
            assert await db.tx_whole(_insert(1)) == 1
            after_commit = await db.read_whole(_count)
            with pytest.raises(ValueError, match="after its insert"):
                await db.tx_whole(_insert(2, then_fail=True))
            after_failure = await db.read_whole(_count)
            async with db.read() as conn:
                first = (await conn.execute(text("SELECT count(*) FROM hand_off"))).scalar_one()
                # Committed by another connection between the read's two statements: the second sees it.
                await db.tx_whole(_insert(3))
                second = (await conn.execute(text("SELECT count(*) FROM hand_off"))).scalar_one()
            return after_commit, after_failure, first, second, await db.read_whole(_count)
        finally:
            await db.dispose()

    assert asyncio.run(scenario()) == (1, 1, 1, 2, 2)
