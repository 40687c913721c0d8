from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import KINDS, temporary_database


@pytest.fixture(params=KINDS)
def metadb_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty metadb of each kind in turn: SQLite, PostgreSQL, MariaDB."""
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with temporary_database("sqlite", tmp_path) as url:
        yield url
