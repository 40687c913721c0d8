"""Errors of the OceanBase access layer.

Every message names the observer (host:port), the statement and what OceanBase said, so a failed subtask
log is enough to act on. Statements are rendered for messages by `describe_sql`, which never shows the
arguments of a statement marked secret nor the text after IDENTIFIED BY / PASSWORD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Client-side errnos of PyMySQL/aiomysql that mean "no session could be opened"; OceanBase never sends them.
CR_CONNECTION_ERROR = 2003
CR_SERVER_LOST = 2013
ER_ACCESS_DENIED = 1045
ER_NO_SUCH_TABLE = 1146
ER_PARSE_ERROR = 1064

_SECRET_TAIL = re.compile(r"(IDENTIFIED\s+BY|PASSWORD\s*\(|PASSWORD\s*=)\s*.*", re.IGNORECASE | re.DOTALL)
_MAX_SQL_IN_MESSAGE = 600


def describe_sql(sql: str, args: Sequence[object] = (), *, secret: bool = False) -> str:
    """The statement as it appears in messages: one line, arguments inlined unless secret."""
    text = " ".join(sql.split())
    text = _SECRET_TAIL.sub(lambda m: f"{m.group(1)} <redacted>", text)
    if args:
        if secret:
            text = text.replace("%s", "?")
        else:
            try:
                text = text % tuple(_literal(a) for a in args)
            except (TypeError, ValueError):
                text = f"{text} with {len(args)} argument(s)"
    if len(text) > _MAX_SQL_IN_MESSAGE:
        text = text[: _MAX_SQL_IN_MESSAGE - 3] + "..."
    return text


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class ObError(Exception):
    """Base of every error raised by `obcp.ob`."""


class ObSqlError(ObError):
    """A statement (or the login that precedes it) failed on one observer.

    `errno` is OceanBase's error number (or the client's 2003/2013 for network failures, None for a
    timeout); `ob_message` is OceanBase's own text.
    """

    def __init__(self, address: str, statement: str, errno: int | None, ob_message: str) -> None:
        self.address = address
        self.statement = statement
        self.errno = errno
        self.ob_message = ob_message
        said = f"error {errno}: {ob_message}" if errno is not None else ob_message
        super().__init__(f"{address}: {statement}: {said}")


class ObConnectError(ObSqlError):
    """No MySQL session could be opened: refused, unreachable, or no handshake in time."""


class ObLoginError(ObSqlError):
    """The observer answered and refused the credentials (errno 1045)."""


class ObTimeoutError(ObSqlError):
    """The observer did not answer within the read timeout; the session has been closed."""


class ObOperationRefused(ObError):
    """A cluster operation was not attempted because its pre-check failed (reason in the message)."""


class ObWaitTimeout(ObError):
    """A bounded wait ended before its condition held; the message says what was still missing."""

    def __init__(self, message: str, still_missing: str) -> None:
        self.still_missing = still_missing
        super().__init__(message)
