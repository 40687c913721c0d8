"""OceanBase (and seekdb, its single-server form) as the metadb, through its MySQL mode.

OceanBase runs obcp's statements as MySQL does: the claims' guarded UPDATEs, the metadb's clock
(`UNIX_TIMESTAMP(NOW(3))`), the migrations' DDL (which commits by itself, as on MySQL). What differs is how
`SHOW CREATE TABLE` prints a table, which SQLAlchemy's MySQL reflection reads (Alembic's schema comparison,
`inspect`): an index line ends in `BLOCK_SIZE 16384 LOCAL`; a foreign key names the referenced table's
database even when it is the same one, has no space before the column list, puts ON UPDATE before ON DELETE
and ends in " ,". Unread, the indexes and foreign keys would be missing from the reflected table.

obcp's MySQL drivers (`obcp_pymysql`, `obcp_aiomysql`, chosen by `obcp.meta.db`) are SQLAlchemy's, with
`SHOW CREATE TABLE`'s answer rewritten the way MySQL prints it before SQLAlchemy reads it; text from MySQL
or MariaDB never has that shape and passes unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.mysql.aiomysql import MySQLDialect_aiomysql
from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql

SYNC_DRIVER = "obcp_pymysql"
ASYNC_DRIVER = "obcp_aiomysql"

_INDEX_STORAGE = re.compile(r"\) BLOCK_SIZE \d+(?: (?:LOCAL|GLOBAL))?(,?)$")
_FK_ACTIONS = "RESTRICT|CASCADE|SET NULL|NO ACTION|SET DEFAULT"
_FK_TAIL = re.compile(
    rf"REFERENCES +(?:`(?P<db>[^`]+)`\.)?(?P<table>`[^`]+`) ?\((?P<cols>[^)]*)\)"
    rf"(?: +ON UPDATE (?P<up>{_FK_ACTIONS}))?(?: +ON DELETE (?P<down>{_FK_ACTIONS}))? *(?P<comma>,?)$"
)


def mysql_shaped(show_create: str, schema: str | None) -> str:
    """OceanBase's `SHOW CREATE TABLE` of a table in `schema` as MySQL would print it."""
    return "\n".join(_mysql_line(line, schema) for line in show_create.splitlines())


def _mysql_line(line: str, schema: str | None) -> str:
    if line.startswith("  CONSTRAINT ") and " FOREIGN KEY " in line:
        return _FK_TAIL.sub(lambda m: _mysql_fk_tail(m, schema), line)
    if "KEY " in line and not line.startswith("  `"):
        return _INDEX_STORAGE.sub(r")\1", line)
    return line


def _mysql_fk_tail(m: re.Match[str], schema: str | None) -> str:
    # MySQL names the referenced table's database only when it is another one, prints ON DELETE before
    # ON UPDATE (SQLAlchemy's pattern reads them in that order), and leaves out RESTRICT, the default.
    db = f"`{m.group('db')}`." if m.group("db") and m.group("db") != schema else ""
    tail = f"REFERENCES {db}{m.group('table')} ({m.group('cols')})"
    if m.group("down") and m.group("down") != "RESTRICT":
        tail += f" ON DELETE {m.group('down')}"
    if m.group("up") and m.group("up") != "RESTRICT":
        tail += f" ON UPDATE {m.group('up')}"
    return tail + m.group("comma")


class _OceanBaseAwareReflection:
    default_schema_name: str | None

    def _show_create_table(
        self, connection: Any, table: Any, charset: str | None = None, full_name: str | None = None
    ) -> str:
        text: str = super()._show_create_table(connection, table, charset, full_name)  # type: ignore[misc]
        named = re.match(r"`([^`]+)`\.", full_name or "")
        return mysql_shaped(text, named.group(1) if named else self.default_schema_name)


class PyMySQLDialect(_OceanBaseAwareReflection, MySQLDialect_pymysql):
    """PyMySQL (Alembic, tools), reading OceanBase's table definitions too."""

    supports_statement_cache = True  # the subclass compiles statements exactly as its parent


class AioMySQLDialect(_OceanBaseAwareReflection, MySQLDialect_aiomysql):
    """aiomysql (the server), reading OceanBase's table definitions too."""

    supports_statement_cache = True


registry.register(f"mysql.{SYNC_DRIVER}", __name__, "PyMySQLDialect")
registry.register(f"mysql.{ASYNC_DRIVER}", __name__, "AioMySQLDialect")
