"""The metadb connection: one async engine per process, with per-dialect settings for safe CAS claims."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import CursorResult, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from obcp.meta import oceanbase, sqlite_driver

R = TypeVar("R")

# MySQL, MariaDB and OceanBase (seekdb) all go through obcp's MySQL drivers: aiomysql and PyMySQL, reading
# OceanBase's table definitions too (see `oceanbase`).
_MYSQL_ASYNC, _MYSQL_SYNC = oceanbase.ASYNC_DRIVER, oceanbase.SYNC_DRIVER
_ASYNC_DRIVERS = {"sqlite": sqlite_driver.ASYNC_DRIVER, "mysql": _MYSQL_ASYNC, "mariadb": _MYSQL_ASYNC}
_ASYNC_DRIVERS["postgresql"] = "psycopg"
_SYNC_DRIVERS = {"sqlite": "pysqlite", "mysql": _MYSQL_SYNC, "mariadb": _MYSQL_SYNC, "postgresql": "psycopg"}


# Seconds to open a connection to the metadb, or to wait for one from the pool, before giving up.
CONNECT_TIMEOUT_SECONDS = 3


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT of one row created."""
    pk = result.inserted_primary_key
    if pk is None:
        raise RuntimeError("the INSERT created no row with a primary key")
    return int(pk[0])


def now_ms() -> int:
    return int(time.time() * 1000)


def async_url(url: str | URL) -> URL:
    """The same database with obcp's async driver (a plain `sqlite:///` or `mysql://` is fine)."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported metadb backend {backend!r}: use sqlite, mysql/mariadb or postgresql")
    if backend == "mariadb":
        u = u.set(drivername=f"mysql+{_MYSQL_ASYNC}")
    else:
        u = u.set(drivername=f"{backend}+{_ASYNC_DRIVERS[backend]}")
    if backend in ("mysql", "mariadb") and "charset" not in u.query:
        u = u.update_query_dict({"charset": "utf8mb4"})
    return u


def sync_url(url: str | URL) -> URL:
    """The same database with a synchronous driver, for Alembic and tools."""
    u = async_url(url)
    backend = u.get_backend_name()
    name = "mysql" if backend == "mariadb" else backend
    return u.set(drivername=f"{name}+{_SYNC_DRIVERS[backend]}")


def redacted(url: str | URL) -> str:
    """The URL as it may appear in a log line: never with its password."""
    return make_url(url).render_as_string(hide_password=True)


# An execution option: on SQLite, no BEGIN; every statement sees what was committed before it.
STATEMENT_SNAPSHOTS = "obcp_statement_snapshots"


def install_sqlite_pragmas(sync_engine: Any) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE for transactions, so read-then-write claims are serialised.

    pysqlite's deferred transactions let two processes read the same row before either writes (measured:
    1,032 double claims in 2,000), and SQLAlchemy drops SKIP LOCKED on SQLite, so obcp takes the write
    lock at BEGIN.
    """

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(STATEMENT_SNAPSHOTS):
            return  # each statement runs in a transaction of its own (`Database.read`)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("immediate") else "BEGIN")


# A read on the event loop's thread that meets a lock (under WAL only while SQLite recovers its index after a
# crash) holds the loop while it waits: not for SQLite's 30 s, but at most this long, then fails.
SQLITE_READ_BUSY_SECONDS = 2.0


def install_sqlite_reader_pragmas(sync_engine: Any) -> None:
    """Reads only (`PRAGMA query_only`: a write in a read fails at once rather than wait for the write lock
    on the event loop), each statement in a transaction of its own (no BEGIN)."""

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.close()


class Database:
    """The metadb of this process: `tx()` for writes, `read()` for reads; both short-lived."""

    def __init__(self, url: str | URL, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            # Hundreds of steps at once read the inventory (bench/fleet): with SQLAlchemy's default pool
            # (5 + 10) a step waited over 30 s for a connection and failed. A connection is a thread here.
            kwargs = {"connect_args": {"timeout": 30}}
            if self.url.database not in (None, "", ":memory:"):  # an in-memory one has a single connection
                # All kept once opened: an overflow connection (a thread) is closed when given back.
                kwargs.update(pool_size=pool_size * 6, max_overflow=0)
        else:
            # A metadb that is down must be reported in seconds (an API call answers 503 within 5 s), not
            # after the driver's or the pool's default waits.
            # All kept once opened (no overflow): an overflow connection is closed when it is given back, and
            # under load (bench/fleet, hundreds of steps at once) that opened a new metadb connection for
            # every other subtask, each costing the server milliseconds of CPU.
            kwargs.update(
                pool_size=pool_size * 3,
                max_overflow=0,
                pool_recycle=1800,
                pool_timeout=CONNECT_TIMEOUT_SECONDS,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            )
        if self.dialect in ("mysql", "mariadb"):
            # Each statement must see what other replicas committed before it, as on PostgreSQL: under
            # MySQL's default REPEATABLE READ, a submission that waited for a cluster's lock guard read the
            # snapshot from before the winner's commit and tried to take the same lock again (a duplicate
            # key instead of "cluster busy"). OceanBase's default is READ COMMITTED already.
            kwargs["isolation_level"] = "READ COMMITTED"
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._read_engine: AsyncEngine | None = None
        self._reader = self._reading_engine(pool_size)
        # A read on PostgreSQL (autocommit) or on a SQLite file (the inline reader) runs outside any
        # transaction: BEGIN and COMMIT around it would be SQLAlchemy's bookkeeping only, yet two of the five
        # hand-offs to its greenlet that a one-statement read costs (~80 of ~300 µs of CPU on SQLite).
        self._bare_reads = self.dialect == "postgresql" or self._read_engine is not None
        if self.dialect == "sqlite":
            install_sqlite_pragmas(self.engine.sync_engine)
        else:
            ping_when_idle(self.engine.sync_engine)

    def _reading_engine(self, pool_size: int) -> AsyncEngine:
        """The engine `read()` uses."""
        # Reads on PostgreSQL run in autocommit: under READ COMMITTED every statement takes its own snapshot
        # anyway, so BEGIN and COMMIT around a read only cost two round trips (for a one-statement read,
        # three instead of one: bench/fleet's steps read the inventory that way). psycopg switches it on
        # the client, without a statement. On SQLite a read sends no BEGIN either, so that its statements
        # see what was committed before each, as on the other metadbs; a SQLite file is read on the event
        # loop's thread, with an engine and a pool of its own (`sqlite_driver`). MySQL's drivers would send
        # SET autocommit, which saves nothing.
        if self.dialect == "postgresql":
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        if self.dialect == "sqlite" and self.url.database not in (None, "", ":memory:"):
            self._read_engine = create_async_engine(
                self.url.set(drivername=f"sqlite+{sqlite_driver.INLINE_DRIVER}"),
                pool_size=pool_size * 3,
                max_overflow=0,
                connect_args={"timeout": SQLITE_READ_BUSY_SECONDS},
            )
            install_sqlite_reader_pragmas(self._read_engine.sync_engine)
            return self._read_engine
        if self.dialect == "sqlite":
            return self.engine.execution_options(**{STATEMENT_SNAPSHOTS: True})
        return self.engine

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); committed on exit, rolled back on error."""
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = await conn.execution_options(immediate=True)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read: each statement sees what was committed before it (no snapshot across statements); on a
        SQLite file, reads only, on the event loop's thread."""
        async with self._reader.connect() as conn:
            if self._bare_reads:
                yield conn
            else:
                async with conn.begin():
                    yield conn

    async def read_whole(self, fn: Callable[[Connection], R]) -> R:
        """`fn` (synchronous Core) as one read, run whole in one hand-off to SQLAlchemy's greenlet, where
        `read()` makes one for each connect, statement and close: for the reads every request makes (its
        credential, a followed task's row), about half the CPU of `read()` on SQLite, a fifth on
        PostgreSQL."""
        return await greenlet_spawn(self._read_whole, fn)

    def _read_whole(self, fn: Callable[[Connection], R]) -> R:
        with self._reader.sync_engine.connect() as conn:
            if self._bare_reads:
                return fn(conn)
            with conn.begin():
                return fn(conn)

    async def tx_whole(self, fn: Callable[[Connection], R]) -> R:
        """`fn` (synchronous Core) in one write transaction (as `tx()`), run whole in one hand-off to
        SQLAlchemy's greenlet instead of one for each of connect, BEGIN, the work, COMMIT and close."""
        return await greenlet_spawn(self._tx_whole, fn)

    def _tx_whole(self, fn: Callable[[Connection], R]) -> R:
        with self.engine.sync_engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(immediate=True)
            with conn.begin():
                return fn(conn)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not None:
            await self._read_engine.dispose()


# A pooled connection is tried before it is lent only when it sat unused this long. SQLAlchemy's
# `pool_pre_ping` tries it on every loan: a round trip more for every transaction, a third of the
# statements of a busy server (bench/fleet). A connection used a moment ago is as good as a ping; one that
# waited through a metadb restart has waited longer than this.
PING_AFTER_IDLE_SECONDS = 1.0


def ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections idle past `PING_AFTER_IDLE_SECONDS`: a dead one is
    replaced before use (the pool opens another on DisconnectionError), as `pool_pre_ping` would."""

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_conn: Any, record: Any) -> None:
        record.info["obcp_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("obcp_idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"the metadb connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("the metadb connection did not answer a ping")


def metadb_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the metadb cannot be reached right now (stopped, restarting, network gone), as
    opposed to a statement it refused: the caller answers 503 or waits for it to come back."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    return isinstance(exc, ConnectionError | TimeoutError)
