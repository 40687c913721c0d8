"""The server's SQLite drivers (`obcp.meta.sqlite_driver`): a write's statement is one trip to the
connection's thread, a read none (it runs on the event loop's thread, and writes nothing); both answer as
SQLAlchemy's aiosqlite adapter does (rows, primary keys, row counts, errors, rollback, streamed results)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from obcp.meta.db import Database
from obcp.meta.sqlite_driver import InlineDialect, OneHandOffDialect

_md = MetaData()
_items = Table("items", _md, Column("id", Integer, primary_key=True), Column("name", String, unique=True))


def _run(tmp_path: Path, body: Callable[[Database], Awaitable[Any]]) -> Any:
    async def scenario() -> Any:
        db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
        try:
            async with db.tx() as conn:
                await conn.run_sync(_md.create_all)
            return await body(db)
        finally:
            await db.dispose()

    return asyncio.run(scenario())


def test_the_server_uses_them_on_sqlite(tmp_path: Path) -> None:
    async def dialects(db: Database) -> tuple[type, type]:
        async with db.read() as conn:
            return type(db.engine.dialect), type(conn.dialect)

    assert _run(tmp_path, dialects) == (OneHandOffDialect, InlineDialect)


async def _value(v: Any) -> Any:
    return v


def test_a_write_is_one_trip_to_the_thread_and_a_read_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    async def body(db: Database) -> tuple[list[str], list[str], list[str]]:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))  # the pool's connection is opened and set up
        trips.clear()
        async with db.read() as conn:
            rows = (await conn.execute(select(_items))).all()
            assert rows == []
        read_trips = list(trips)  # the read, its end and the connection given back: none
        async with db.tx() as conn:
            trips.clear()
            await conn.execute(insert(_items).values(name="a"))
            insert_trips = list(trips)
            trips.clear()
        commit_trips = list(trips)
        return read_trips, insert_trips, commit_trips

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    read_trips, insert_trips, commit_trips = _run(tmp_path, body)
    # SQLAlchemy's adapter takes four for a SELECT (open the cursor, execute, fetch, close), one each for
    # the read's commit and the pool's rollback, and three for an INSERT.
    assert read_trips == [], read_trips
    assert insert_trips == ["_run_statement"], insert_trips
    assert commit_trips == ["commit"], commit_trips  # a write transaction is committed


def test_it_answers_as_a_dbapi_cursor(tmp_path: Path) -> None:
    async def body(db: Database) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with db.tx() as conn:
            seen["pk"] = (await conn.execute(insert(_items).values(name="a"))).inserted_primary_key
            seen["many"] = (await conn.execute(insert(_items), [{"name": "b"}, {"name": "c"}])).rowcount
            updated = await conn.execute(_items.update().where(_items.c.id > 1).values(name=None))
            seen["updated"] = updated.rowcount
        async with db.read() as conn:
            result = await conn.execute(select(_items.c.id, _items.c.name).order_by(_items.c.id))
            seen["keys"] = list(result.keys())
            seen["rows"] = [tuple(r) for r in result]
            seen["first"] = (await conn.execute(select(_items.c.name).order_by(_items.c.id))).first()
            seen["none"] = (await conn.execute(select(_items).where(_items.c.id == 99))).first()
            streamed = await conn.stream(select(_items.c.id).order_by(_items.c.id))
            seen["streamed"] = [r[0] async for r in streamed]
        return seen

    seen = _run(tmp_path, body)
    assert seen["pk"] == (1,)
    assert seen["many"] == 2
    assert seen["updated"] == 2
    assert seen["keys"] == ["id", "name"]
    assert seen["rows"] == [(1, "a"), (2, None), (3, None)]
    assert tuple(seen["first"]) == ("a",)
    assert seen["none"] is None
    assert seen["streamed"] == [1, 2, 3]


def test_errors_are_sqlalchemys_and_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    async def body(db: Database) -> tuple[str, str, int]:
        async with db.tx() as conn:
            await conn.execute(insert(_items).values(name="a"))
        with pytest.raises(IntegrityError) as dup:
            async with db.tx() as conn:
                await conn.execute(insert(_items).values(name="b"))
                await conn.execute(insert(_items).values(name="a"))
        with pytest.raises(OperationalError) as bad:
            async with db.read() as conn:
                await conn.execute(text("SELECT nope FROM items"))
        async with db.read() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM items"))).scalar_one()
        return str(dup.value.orig), str(bad.value.orig), count

    dup, bad, count = _run(tmp_path, body)
    assert "UNIQUE constraint failed: items.name" in dup
    assert "no such column: nope" in bad
    assert count == 1  # "b" went with the failed transaction


def test_a_read_writes_nothing(tmp_path: Path) -> None:
    # A write inside a read fails at once (it would wait for the write lock on the event loop's thread).
    async def body(db: Database) -> str:
        with pytest.raises(OperationalError) as refused:
            async with db.read() as conn:
                await conn.execute(insert(_items).values(name="a"))
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM items"))).scalar_one() == 0
        return str(refused.value.orig)

    assert "readonly database" in _run(tmp_path, body)
