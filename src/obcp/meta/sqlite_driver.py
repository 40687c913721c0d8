"""SQLite for the server: SQLAlchemy's aiosqlite dialect with a statement handed to SQLite's thread once.

aiosqlite runs each connection in a thread of its own, and SQLAlchemy's cursor adapter hands every statement
to that thread and back four times: to open a cursor, to execute, to fetch the rows, to close the cursor.
Each hand-off wakes the thread, then the event loop through its self-pipe, and the two take the GIL from
each other; under load (bench/fleet: hundreds of steps and followers at once) those hand-offs were most of
a replica's time on SQLite. The cursor here does all four in one hand-off: the statement's rows,
description, row count and last row id come back together, as aiosqlite's own `execute_fetchall` does it.
A commit or rollback with no transaction open (a read's end, a connection given back to the pool) takes
no trip at all.

Reads go further (`obcp_sqlite_inline`, `Database.read`): they run on the event loop's own thread, with no
trip at all. Under WAL a read takes no lock and waits for no writer, and an indexed read of a few rows costs
SQLite less than one trip to a thread and back; the thread of each such connection only opens and closes it.
Writes keep their thread: BEGIN IMMEDIATE may wait for another writer.

Server-side cursors (`stream_results`) keep SQLAlchemy's adapter: they fetch in parts by design.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

ASYNC_DRIVER = "obcp_aiosqlite"
INLINE_DRIVER = "obcp_sqlite_inline"

_Outcome = tuple[Any, list[Any], int, int | None]


def _run_statement(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    """The statement run and read to its end, its cursor closed (on the connection's thread, or inline)."""
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHandOffCursor(AsyncAdapt_aiosqlite_cursor):
    """A DB-API cursor whose statement, rows and close take one trip to the connection's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No cursor is opened here: each execute opens, reads and closes its own in the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                _run_statement, self._connection._conn, operation, parameters
            )
        self._keep(outcome)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                _run_many, self._connection._conn, operation, seq_of_parameters
            )
        self._keep(outcome)

    def _keep(self, outcome: _Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return  # nothing is open in the thread

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None  # SQLite has one result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHandOffConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneHandOffCursor
    on_loop_thread = False  # whether its statements run on the event loop's thread

    # A read sends no BEGIN (`Database.read`), yet SQLAlchemy commits it at its end and the pool rolls
    # back every connection given back: two trips to the thread for nothing. SQLite says whether a
    # transaction is open without one (the flag is read while no statement of this connection runs).
    def commit(self) -> None:
        if self._in_transaction():
            super().commit()

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def _in_transaction(self) -> bool:
        raw = self._connection._connection
        return raw is not None and bool(raw.in_transaction)


class InlineCursor(OneHandOffCursor):
    """A cursor whose statement runs on the caller's thread (the event loop's)."""

    __slots__ = ()

    # Still a coroutine, run to its end at once: SQLAlchemy's async engine insists that a statement awaits.
    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        self._keep(_run_statement(self._connection._conn, operation, parameters))

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._keep(_run_many(self._connection._conn, operation, seq_of_parameters))


class InlineConnection(OneHandOffConnection):
    __slots__ = ()

    _cursor_cls = InlineCursor
    on_loop_thread = True

    def commit(self) -> None:
        if self._in_transaction():
            self._connection._conn.commit()

    def rollback(self) -> None:
        if self._in_transaction():
            self._connection._conn.rollback()


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite's connections, adapted by `connection_cls`."""

    def __init__(self, connection_cls: type[OneHandOffConnection]) -> None:
        super().__init__(__import__("aiosqlite"), __import__("sqlite3"))
        self.connection_cls = connection_cls

    def connect(self, *arg: Any, **kw: Any) -> OneHandOffConnection:
        if self.connection_cls.on_loop_thread:
            kw["check_same_thread"] = False  # opened on the connection's thread, used on the loop's
        adapted = super().connect(*arg, **kw)
        return self.connection_cls(self, adapted._connection)


class OneHandOffDialect(SQLiteDialect_aiosqlite):
    """aiosqlite, each statement one trip to its connection's thread."""

    supports_statement_cache = True  # compiles statements exactly as its parent
    connection_cls: type[OneHandOffConnection] = OneHandOffConnection

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI(cls.connection_cls)


class InlineDialect(OneHandOffDialect):
    """SQLite read on the event loop's thread (`Database.read` only: see the module's text)."""

    supports_statement_cache = True
    connection_cls = InlineConnection


registry.register(f"sqlite.{ASYNC_DRIVER}", __name__, "OneHandOffDialect")
registry.register(f"sqlite.{INLINE_DRIVER}", __name__, "InlineDialect")
