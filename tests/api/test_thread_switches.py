"""On SQLite the server passes the GIL between its event loop and the metadb's connection threads every
0.2 ms (obcp.api.app): at Python's default 5 ms a statement handed to a thread waited for the busy loop
(bench/fleet). A server on PostgreSQL, whose driver runs on the loop itself, leaves the interval alone."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from obcp.api.app import SQLITE_SWITCH_INTERVAL
from tests.api.conftest import make_client
from tests.dbs import temporary_database

DEFAULT = 0.005


@pytest.fixture
def default_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(DEFAULT)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("default_interval")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_interval_follows_the_metadb(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as url, make_client(url, tmp_path / "home") as client:
        assert client.get("/api/v2/time").status_code == 200
        expected = SQLITE_SWITCH_INTERVAL if kind == "sqlite" else DEFAULT
        assert sys.getswitchinterval() == pytest.approx(expected)
