"""Write transactions of the store, repeated on a deadlock, and the one thread that runs SQLite's."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError

from obcp.engine.hooks import SettleListener, with_listener
from obcp.meta.db import Database, install_sqlite_pragmas, sync_url

R = TypeVar("R")

_RETRYABLE = ("deadlock", "lock wait timeout", "database is locked", "could not serialize", "1213", "1205")


async def in_tx(
    db: Database, fn: Callable[[Connection], R], attempts: int = 8, on_settled: SettleListener | None = None
) -> R:
    """Run `fn` (synchronous SQLAlchemy Core) in one write transaction, again on a deadlock or serialisation
    failure (every step is guarded, so a repeat is harmless).

    On PostgreSQL and MySQL it runs on the async engine, in one hand-off to SQLAlchemy's greenlet
    (`Database.tx_whole`). On SQLite the whole transaction runs in
    one hop on a thread of its own with the synchronous driver: SQLite serialises writers anyway, and one
    hop per transaction instead of one per statement is most of the engine's speed there.

    `on_settled` rides with the connection: a task the transaction settles to a final state is told to it.
    """
    work = fn if on_settled is None else _telling(fn, on_settled)
    for attempt in range(attempts):
        try:
            if db.dialect == "sqlite":
                lane = _sqlite_lane(db)
                return await asyncio.get_running_loop().run_in_executor(lane.executor, lane.run, work)
            return await db.tx_whole(work)
        except (OperationalError, DBAPIError) as exc:
            if attempt == attempts - 1 or not _retryable(exc):
                raise
            await asyncio.sleep(0.01 * (2**attempt))
    raise AssertionError("unreachable")


def _telling(fn: Callable[[Connection], R], listener: SettleListener) -> Callable[[Connection], R]:
    def work(conn: Connection) -> R:
        return fn(with_listener(conn, listener))

    return work


class _SqliteLane:
    """A synchronous engine on the same SQLite file and the one thread that runs its write transactions."""

    def __init__(self, db: Database) -> None:
        self.engine: Engine = create_engine(sync_url(db.url), connect_args={"timeout": 30})
        install_sqlite_pragmas(self.engine)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obcp-sqlite")

    def run(self, fn: Callable[[Connection], R]) -> R:
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                return fn(conn)

    def close(self) -> None:
        self.executor.shutdown(wait=False)
        self.engine.dispose()


_lanes: weakref.WeakKeyDictionary[Database, _SqliteLane] = weakref.WeakKeyDictionary()


def _sqlite_lane(db: Database) -> _SqliteLane:
    lane = _lanes.get(db)
    if lane is None:
        lane = _lanes[db] = _SqliteLane(db)
        weakref.finalize(db, lane.close)
    return lane


def _retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(s in text for s in _RETRYABLE)
