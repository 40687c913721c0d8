"""Alembic environment: obcp always passes the connection in (see obcp.meta.migrate); the target is the
whole schema, every table module loaded."""

from __future__ import annotations

from alembic import context

from obcp.meta.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
