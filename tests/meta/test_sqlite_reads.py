"""Reads on a SQLite metadb send no BEGIN (each statement sees what was committed before it, as on
PostgreSQL and MySQL under READ COMMITTED), and every write transaction still takes the write lock at
BEGIN IMMEDIATE."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from obcp.meta.db import Database


def test_a_read_sends_no_begin_and_a_write_begins_immediate(tmp_path: Path) -> None:
    sent: list[str] = []

    async def scenario() -> list[Any]:
        db = Database(f"sqlite:///{tmp_path / 'meta.db'}")

        def _sent(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            sent.append(statement)

        # Reads and writes have engines of their own (reads on the event loop's thread): both are heard.
        event.listen(Engine, "before_cursor_execute", _sent)
        try:
            async with db.tx() as conn:
                await conn.execute(text("CREATE TABLE t (n INTEGER)"))
                await conn.execute(text("INSERT INTO t VALUES (1)"))
            writes, sent[:] = list(sent), []
            async with db.read() as conn:
                first = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
                # Committed by another connection between the read's two statements: the second sees it.
                async with db.tx() as other:
                    await other.execute(text("INSERT INTO t VALUES (2)"))
                second = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
            return [writes, first, second]
        finally:
            event.remove(Engine, "before_cursor_execute", _sent)
            await db.dispose()

    writes, first, second = asyncio.run(scenario())
    assert writes[0] == "BEGIN IMMEDIATE", writes
    assert not any(s.startswith("BEGIN") for s in sent if s != "BEGIN IMMEDIATE"), sent
    assert [s for s in sent if s.startswith("SELECT")] == ["SELECT count(*) FROM t"] * 2
    assert (first, second) == (1, 2)
