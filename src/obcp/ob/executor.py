"""The one interface the rest of `obcp.ob` talks to OceanBase through.

`ObConnection` implements it over the MySQL protocol; tests implement it with a scripted stand-in of a
multi-node 4.x cluster, which is why capability, topology, readiness and cluster operations take a
`SqlExecutor` rather than a connection.
"""

# ruff: noqa: ASYNC109 -- `timeout` bounds a wait whose failure must say what it waited for and on
# which observer; asyncio.timeout() would raise a bare TimeoutError.
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

# Column names are upper-cased by every executor: OceanBase echoes the case of the select list, and
# callers should not depend on how a statement spelled them.
Row = dict[str, Any]


class SqlExecutor(Protocol):
    @property
    def address(self) -> str:
        """host:port of the observer the statements go to, for messages."""
        ...

    async def query(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> list[Row]:
        """Run a statement that returns rows. pymysql `%s` placeholders; `secret` hides args in errors."""
        ...

    async def execute(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> int:
        """Run a statement for its effect; returns the affected row count."""
        ...


# Opens a fresh session each call; how readiness polls an observer that may be down between polls.
SessionFactory = Callable[[], AbstractAsyncContextManager[SqlExecutor]]
