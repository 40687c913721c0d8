"""Fixtures for the engine tests: a fresh metadb per test (SQLite, or each kind in turn for the tests that
parametrise `db` indirectly: METADBS) and an engine with short timers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from obcp.engine import Engine, EngineSettings
from obcp.engine.testing import effect_metadata
from obcp.meta.db import Database, sync_url
from obcp.meta.schema import metadata
from tests.dbs import KINDS, temporary_database

# `@pytest.mark.parametrize("db", METADBS, indirect=True)`: claims, leases and fencing on every metadb.
METADBS = KINDS

FAST = EngineSettings(lease_seconds=2, heartbeat_seconds=0.5, sweep_seconds=0.2, log_flush_seconds=0.1)


def create_schema(url: str) -> None:
    eng = create_engine(sync_url(url))
    metadata.create_all(eng)
    effect_metadata.create_all(eng)
    eng.dispose()


@pytest.fixture
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    with temporary_database(getattr(request, "param", "sqlite"), tmp_path) as url:
        create_schema(url)
        database = Database(url)
        yield database
        await database.dispose()


@pytest.fixture
async def engine(db: Database) -> AsyncIterator[Engine]:
    eng = Engine(db, "test-server", FAST)
    await eng.start()
    yield eng
    await eng.stop()
