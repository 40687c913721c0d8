"""Throw-away metadbs for tests: a SQLite file, or a uniquely named database on the machine's PostgreSQL
or MariaDB (URLs from OBCP_TEST_PG_URL / OBCP_TEST_MYSQL_URL), or on the session's seekdb (a real
OceanBase-kernel server, started once per session: tests/support/seekdb_metadb.py).

A server that is absent makes the test skip with the reason, except where OBCP_REQUIRE_ALL_DBS=1 (CI), where
it fails: CI must never skip them silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.seekdb_metadb import seekdb_admin_url

PG_URL = os.environ.get("OBCP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_URL = os.environ.get("OBCP_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
KINDS = ("sqlite", "postgresql", "mysql", "seekdb")


def skip_unless_required(reason: str) -> None:
    """Skips with the reason; under OBCP_REQUIRE_ALL_DBS=1 (CI) fails instead: CI tests every metadb."""
    if os.environ.get("OBCP_REQUIRE_ALL_DBS") == "1":
        pytest.fail(reason + " (OBCP_REQUIRE_ALL_DBS=1: CI must test every metadb)")
    pytest.skip(reason)


def _unavailable(kind: str, url: str, exc: Exception) -> None:
    skip_unless_required(
        f"{kind} metadb at {make_url(url).render_as_string(hide_password=True)} is not reachable: {exc}"
    )


@dataclass(frozen=True)
class Server:
    """A database server the tests may create throw-away databases in."""

    url: str
    driver: str
    create: str
    drop: str
    engine_options: dict[str, str]


SERVERS = {
    "postgresql": Server(
        PG_URL,
        "postgresql+psycopg",
        'CREATE DATABASE "{name}"',
        'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        # PostgreSQL runs neither CREATE nor DROP DATABASE inside a transaction.
        {"isolation_level": "AUTOCOMMIT"},
    ),
    "mysql": Server(
        MYSQL_URL,
        "mysql+pymysql",
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        "DROP DATABASE IF EXISTS `{name}`",
        {},
    ),
    # The session's seekdb: its URL is known once it runs (`_server_url`).
    "seekdb": Server(
        "",
        "mysql+pymysql",
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
        "DROP DATABASE IF EXISTS `{name}`",
        {},
    ),
}


def _server_url(kind: str) -> str:
    if kind != "seekdb":
        return SERVERS[kind].url
    try:
        return seekdb_admin_url()
    except RuntimeError as exc:
        skip_unless_required(f"seekdb metadb: {exc}")
        raise


@contextmanager
def temporary_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yields a SQLAlchemy URL of an empty database of that kind; drops it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadb.sqlite'}"
        return
    server = SERVERS[kind]
    server_url = _server_url(kind)
    name = f"obcp_t_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername=server.driver)
    try:
        admin = create_engine(admin_url, **server.engine_options)
        with admin.connect() as conn:
            conn.execute(text(server.create.format(name=name)))
    except Exception as exc:
        _unavailable(kind, server_url, exc)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(server.drop.format(name=name)))
        admin.dispose()
