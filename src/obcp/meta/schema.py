"""The whole metadb schema: `metadata` with every table module loaded. The Alembic migrations create
exactly these tables (a test compares them)."""

from __future__ import annotations

from obcp.meta import (
    access_key_tables,
    alarm_tables,
    audit_tables,
    login_tables,
    parameter_tables,
    session_tables,
    tables,
    takeover_tables,
    task_tables,
)
from obcp.meta.base import metadata

# Loaded for the tables they add to `metadata`; named here so that the import is not unused.
TABLE_MODULES = (
    tables,
    session_tables,
    access_key_tables,
    task_tables,
    takeover_tables,
    parameter_tables,
    audit_tables,
    login_tables,
    alarm_tables,
)

__all__ = ["TABLE_MODULES", "metadata"]
