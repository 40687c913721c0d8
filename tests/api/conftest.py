"""An in-process obcp app on a migrated metadb, driven through Starlette's TestClient (lifespan included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from obcp.api.app import create_app
from obcp.config import Settings
from obcp.meta.migrate import upgrade

ADMIN_PASSWORD = "admin-test-password"


def make_client(db_url: str, home: Path) -> TestClient:
    upgrade(db_url)
    settings = Settings(home=home, db_url=db_url, admin_password=ADMIN_PASSWORD)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(sqlite_url, tmp_path / "home") as c:
        yield c


@pytest.fixture
def admin() -> tuple[str, str]:
    return ("admin", ADMIN_PASSWORD)
