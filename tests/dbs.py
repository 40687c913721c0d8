"""Throw-away metadbs for tests: a SQLite file, or a uniquely named database on the machine's PostgreSQL
or MariaDB (URLs from OBCP_TEST_PG_URL / OBCP_TEST_MYSQL_URL).

A server that is absent makes the test skip with the reason, except where OBCP_REQUIRE_ALL_DBS=1 (CI), where
it fails: CI must never skip them silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("OBCP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_URL = os.environ.get("OBCP_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
KINDS = ("sqlite", "postgresql", "mysql")


def _unavailable(kind: str, url: str, exc: Exception) -> None:
    reason = f"{kind} metadb at {make_url(url).render_as_string(hide_password=True)} is not reachable: {exc}"
    if os.environ.get("OBCP_REQUIRE_ALL_DBS") == "1":
        pytest.fail(reason + " (OBCP_REQUIRE_ALL_DBS=1: CI must test every metadb)")
    pytest.skip(reason)


@contextmanager
def temporary_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yields a SQLAlchemy URL of an empty database of that kind; drops it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadb.sqlite'}"
        return
    name = f"obcp_t_{uuid.uuid4().hex[:12]}"
    if kind == "postgresql":
        admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
        try:
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            _unavailable(kind, PG_URL, exc)
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    if kind == "mysql":
        admin_url = make_url(MYSQL_URL).set(drivername="mysql+pymysql")
        try:
            admin = create_engine(admin_url)
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        except Exception as exc:
            _unavailable(kind, MYSQL_URL, exc)
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            admin.dispose()
        return
    raise ValueError(kind)
