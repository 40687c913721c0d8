"""The metadb pool: connections kept once opened, and tried before use only after sitting idle.

A pooled connection whose server side is gone (the metadb restarted, or an administrator ended it) must be
replaced before a transaction uses it once it idled past `PING_AFTER_IDLE_SECONDS`; one lent again at once is
not tried (that round trip was a third of a busy server's statements)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from obcp.meta import db as metadb
from obcp.meta.db import Database
from tests.dbs import temporary_database

PID_SQL = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
KILL_SQL = {"postgresql": "SELECT pg_terminate_backend({pid})", "mysql": "KILL {pid}"}


async def _pid(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(text(PID_SQL[db.dialect]))).scalar_one())


async def _kill(url: str, kind: str, pid: int) -> None:
    killer = Database(url)
    try:
        async with killer.read() as conn:
            await conn.execute(text(KILL_SQL[kind].format(pid=pid)))
    finally:
        await killer.dispose()
    await asyncio.sleep(0.2)  # the server closes the session after answering


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_an_idle_connection_that_died_is_replaced_before_use(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(url: str) -> tuple[int, int]:
        db = Database(url)
        try:
            first = await _pid(db)
            await _kill(url, kind, first)
            monkeypatch.setattr(metadb, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has idled "long enough"
            return first, await _pid(db)
        finally:
            await db.dispose()

    with temporary_database(kind, tmp_path) as url:
        first, second = asyncio.run(scenario(url))
    assert second != first


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_connection_lent_again_at_once_is_not_tried(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the trade: within the idle window the pool trusts the connection, so a session
    killed in that window surfaces as the transaction's error (the engine's callers treat it as the
    metadb being unreachable and try again), and the pool replaces it afterwards."""
    monkeypatch.setattr(metadb, "PING_AFTER_IDLE_SECONDS", 3600.0)

    async def scenario(url: str) -> tuple[int, int]:
        db = Database(url)
        try:
            first = await _pid(db)
            await _kill(url, kind, first)
            with pytest.raises(DBAPIError) as caught:
                await _pid(db)
            assert metadb.metadb_unreachable(caught.value)
            return first, await _pid(db)
        finally:
            await db.dispose()

    with temporary_database(kind, tmp_path) as url:
        first, second = asyncio.run(scenario(url))
    assert second != first


def test_connections_are_kept_once_opened(tmp_path: Path) -> None:
    """No overflow: a connection given back stays in the pool, so a burst does not open new ones later."""

    async def scenario(url: str) -> tuple[int, int]:
        db = Database(url)
        try:

            async def hold() -> None:
                async with db.read() as conn:
                    await conn.execute(text("SELECT 1"))
                    await asyncio.sleep(0.05)

            pool = db.engine.sync_engine.pool
            assert isinstance(pool, QueuePool)
            await asyncio.gather(*(hold() for _ in range(20)))
            opened = pool.checkedin()
            await asyncio.gather(*(hold() for _ in range(20)))
            return opened, pool.checkedin()
        finally:
            await db.dispose()

    with temporary_database("postgresql", tmp_path) as url:
        first, second = asyncio.run(scenario(url))
    assert first == second == 20
