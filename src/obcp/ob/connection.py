"""MySQL-protocol sessions to one observer, with connect and read timeouts.

Built on aiomysql rather than PyMySQL in `asyncio.to_thread`: the default thread pool has 6 workers on
this 2-core class of machine and is shared by the whole server, so a few observers that hang in the
handshake would starve unrelated work; with asyncio every wait is a cancellable coroutine, a subtask
cancel stops the wait at once, and each statement can carry its own deadline (a probe needs seconds,
`ALTER SYSTEM STOP ZONE` blocks until every leader has left). aiomysql has no read timeout of its own,
so every network wait here is wrapped in `asyncio.wait_for`, and a session that timed out is closed
because its protocol state is unknown.
"""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiomysql
import pymysql

from obcp.netpolicy import DestinationRefused, check_destination
from obcp.ob.errors import (
    CR_CONNECTION_ERROR,
    CR_SERVER_LOST,
    ER_ACCESS_DENIED,
    ObConnectError,
    ObLoginError,
    ObSqlError,
    ObTimeoutError,
    describe_sql,
)
from obcp.ob.executor import Row, SqlExecutor

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class ObTimeouts:
    """Seconds. `connect` bounds TCP connect plus handshake plus login; `read` bounds each statement."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT


@dataclass(frozen=True)
class ObEndpoint:
    """Where and as whom to log in. The password is kept out of repr and never put in a message."""

    host: str
    port: int
    password: str = field(default="", repr=False)
    user: str = "root"
    database: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ObConnection:
    """One open session; implements `SqlExecutor`. Use `open_connection` to get one."""

    def __init__(self, endpoint: ObEndpoint, timeouts: ObTimeouts, conn: Any) -> None:
        self._endpoint = endpoint
        self._timeouts = timeouts
        self._conn = conn

    def __repr__(self) -> str:
        return f"ObConnection({self.address}, user={self._endpoint.user!r})"

    @property
    def address(self) -> str:
        return self._endpoint.address

    @property
    def endpoint(self) -> ObEndpoint:
        return self._endpoint

    @property
    def closed(self) -> bool:
        return self._conn is None

    async def query(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> list[Row]:
        rows, _ = await self._run(sql, args, timeout, secret, fetch=True)
        return rows

    async def execute(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> int:
        _, count = await self._run(sql, args, timeout, secret, fetch=False)
        return count

    async def _run(
        self, sql: str, args: Sequence[object], timeout: float | None, secret: bool, *, fetch: bool
    ) -> tuple[list[Row], int]:
        statement = describe_sql(sql, args, secret=secret)
        if self._conn is None:
            raise ObConnectError(self.address, statement, None, "session already closed")
        limit = self._timeouts.read if timeout is None else timeout
        try:
            return await asyncio.wait_for(self._run_unbounded(sql, args, fetch), limit)
        except TimeoutError as exc:
            self.close()
            raise ObTimeoutError(
                self.address, statement, None, f"no answer within {limit:g} s (read timeout); session closed"
            ) from exc
        except asyncio.CancelledError:
            self.close()
            raise
        except pymysql.err.Error as exc:
            if _is_network_error(exc):
                self.close()
            raise _translate(exc, self.address, statement) from None
        except OSError as exc:
            self.close()
            raise ObConnectError(self.address, statement, CR_CONNECTION_ERROR, _os_text(exc)) from None

    async def _run_unbounded(self, sql: str, args: Sequence[object], fetch: bool) -> tuple[list[Row], int]:
        async with self._conn.cursor(aiomysql.DictCursor) as cur:
            count = await cur.execute(sql, tuple(args) if args else None)
            if not fetch:
                return [], int(count or 0)
            raw = await cur.fetchall()
            rows = [{str(k).upper(): v for k, v in r.items()} for r in raw]
            return rows, len(rows)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # close() drops the transport without a COM_QUIT round trip, so it cannot block.
            conn.close()

    async def __aenter__(self) -> ObConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def connect(endpoint: ObEndpoint, timeouts: ObTimeouts | None = None) -> ObConnection:
    """Log in; raises ObConnectError (refused, unreachable, no handshake in time) or ObLoginError."""
    timeouts = timeouts or ObTimeouts()
    statement = f"(login as {endpoint.user})"
    try:
        check_destination(endpoint.host, "observer")
    except DestinationRefused as exc:
        raise ObConnectError(endpoint.address, statement, None, str(exc)) from exc
    # Built by hand instead of aiomysql.connect() so that a cancelled or timed-out handshake can close
    # the half-open socket; aiomysql only cleans up on Exception, not on cancellation.
    conn = aiomysql.Connection(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password,
        db=endpoint.database,
        connect_timeout=timeouts.connect,
        autocommit=True,
        charset="utf8mb4",
    )
    try:
        await asyncio.wait_for(conn._connect(), timeouts.connect + timeouts.read)
    except TimeoutError as exc:
        conn.close()
        raise ObConnectError(
            endpoint.address,
            statement,
            None,
            f"no MySQL handshake within {timeouts.connect + timeouts.read:g} s "
            "(something listens on the port but does not answer as an observer)",
        ) from exc
    except asyncio.CancelledError:
        conn.close()
        raise
    except pymysql.err.Error as exc:
        conn.close()
        raise _translate(exc, endpoint.address, statement) from None
    except OSError as exc:
        conn.close()
        raise ObConnectError(endpoint.address, statement, CR_CONNECTION_ERROR, _os_text(exc)) from None
    except RuntimeError as exc:
        # aiomysql sets its socket options right after the TCP connect; when the observer reset the
        # connection in between (a restarting observer does, under uvloop often), the transport is closed
        # already and aiomysql raises this instead of a connection error.
        conn.close()
        if str(exc) != _TRANSPORT_CLOSED:
            raise
        raise ObConnectError(
            endpoint.address, statement, CR_SERVER_LOST, "the observer closed the connection during login"
        ) from None
    return ObConnection(endpoint, timeouts, conn)


_TRANSPORT_CLOSED = "Transport does not expose socket instance"


@asynccontextmanager
async def open_connection(
    endpoint: ObEndpoint, timeouts: ObTimeouts | None = None
) -> AsyncIterator[ObConnection]:
    conn = await connect(endpoint, timeouts)
    try:
        yield conn
    finally:
        conn.close()


# How obcp opens a session to an observer: `open_connection` over MySQL; the scripted 4.x stand-in in
# tests (no multi-node OceanBase runs there) passes its own, so whole operation DAGs run against it.
Connector = Callable[[ObEndpoint, ObTimeouts], AbstractAsyncContextManager[SqlExecutor]]


def _is_network_error(exc: pymysql.err.Error) -> bool:
    return isinstance(exc, pymysql.err.OperationalError | pymysql.err.InterfaceError) and _errno(exc) in (
        CR_CONNECTION_ERROR,
        2006,
        2013,
        0,
        None,
    )


def _errno(exc: pymysql.err.Error) -> int | None:
    if exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _translate(exc: pymysql.err.Error, address: str, statement: str) -> ObSqlError:
    errno = _errno(exc)
    message = (
        str(exc.args[1]) if len(exc.args) > 1 else (str(exc.args[0]) if exc.args else type(exc).__name__)
    )
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError):
        message = f"{message}: {_os_text(cause)}"
    if errno == ER_ACCESS_DENIED:
        return ObLoginError(address, statement, errno, message)
    if errno in (CR_CONNECTION_ERROR, 2006, 2013):
        return ObConnectError(address, statement, errno, message)
    return ObSqlError(address, statement, errno, message)


def _os_text(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
