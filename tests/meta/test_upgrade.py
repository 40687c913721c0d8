"""Upgrades keep data: a metadb made by the previous migration head, with a row in every table, upgrades in
place to the current head on SQLite, PostgreSQL and MariaDB, and every row is still there, unchanged.

The rows are generated from the reflected schema of the previous head (a value for every column that needs
one, id 1 everywhere so that every foreign key finds its parent), so the test covers whatever the next
migration adds or changes without being rewritten.
"""

from __future__ import annotations

from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, Table, create_engine, insert, select

from obcp.meta.db import sync_url
from obcp.meta.migrate import alembic_config, current_head, upgrade


def previous_head() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_revision(current_head())
    assert head is not None
    down = head.down_revision
    if down is None or isinstance(down, str):
        return down
    raise AssertionError(f"the head has parents {down}: a merge migration needs a test of its own")


def _value(column: Column[Any]) -> Any:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if column.primary_key or column.foreign_keys:
        return 1 if kind is int else "1"
    if kind is bool:
        return False
    if kind is int:
        return 7
    if kind is float:
        return 1.5
    if kind is bytes:
        return b"v"
    length = getattr(column.type, "length", None) or 16
    return f"v-{column.name}"[:length]


def _row(table: Table) -> dict[str, Any]:
    # Every column gets a value, nullable or not, so that a migration that rewrites a column is seen.
    return {c.name: _value(c) for c in table.columns}


def test_upgrade_from_the_previous_head_keeps_every_row(metadb_url: str) -> None:
    before = previous_head()
    if before is None:
        return  # a single migration: nothing to upgrade from yet
    upgrade(metadb_url, before)
    engine = create_engine(sync_url(metadb_url))
    try:
        old = MetaData()
        old.reflect(bind=engine)
        tables = [t for t in old.sorted_tables if t.name != "alembic_version"]
        written: dict[str, dict[str, Any]] = {}
        with engine.begin() as conn:
            for table in tables:
                written[table.name] = _row(table)
                conn.execute(insert(table).values(**written[table.name]))
        upgrade(metadb_url)
        with engine.connect() as conn:
            for table in tables:
                rows = [
                    dict(r._mapping)
                    for r in conn.execute(select(Table(table.name, MetaData(), autoload_with=conn)))
                ]
                assert len(rows) == 1, f"{table.name}: {len(rows)} rows after the upgrade"
                kept = {k: rows[0][k] for k in written[table.name]}
                assert kept == written[table.name], f"{table.name} changed by the upgrade"
    finally:
        engine.dispose()
