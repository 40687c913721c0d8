from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import KINDS, temporary_database
from tests.support.seekdb_metadb import stop_session_seekdb

# No test reaches beyond loopback: obcp's own outbound guard holds every server, agent client and SQL
# session the tests start to it (servers started as subprocesses inherit this environment), whatever
# address a test, or a fuzzing client, registers.
os.environ.setdefault("OBCP_CONNECT_ALLOW", "127.0.0.0/8")


@pytest.fixture(scope="session", autouse=True)
def session_seekdb_stopped() -> Iterator[None]:
    """The one seekdb the metadb tests share is started by the first test that asks for it and stopped, by
    its pid, when the session ends."""
    yield
    stop_session_seekdb()


@pytest.fixture(params=KINDS)
def metadb_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty metadb of each kind in turn: SQLite, PostgreSQL, MariaDB, seekdb."""
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with temporary_database("sqlite", tmp_path) as url:
        yield url
