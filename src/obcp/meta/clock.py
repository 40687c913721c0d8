"""The metadb's clock, in epoch milliseconds, as a SQL expression: leases and deadlines are written and
compared with it, so that replicas whose own clocks disagree still agree on when a lease runs out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class db_now_ms(FunctionElement[int]):
    """The database server's current time (not the transaction's start) in milliseconds since the epoch."""

    type = BigInteger()
    inherit_cache = True


@compiles(db_now_ms, "postgresql")
def _postgresql(_element: db_now_ms, _compiler: Any, **_kw: Any) -> str:
    # clock_timestamp(): now() would be the transaction's start, which a long transaction leaves behind.
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"


@compiles(db_now_ms, "mysql")
@compiles(db_now_ms, "mariadb")
def _mysql(_element: db_now_ms, _compiler: Any, **_kw: Any) -> str:
    return "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"


@compiles(db_now_ms, "sqlite")
def _sqlite(_element: db_now_ms, _compiler: Any, **_kw: Any) -> str:
    # SQLite runs in the replica's process, so this is that host's clock: replicas on one SQLite file share
    # one host, hence one clock.
    return "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
