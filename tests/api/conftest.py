"""An in-process obcp app on a migrated metadb, driven through Starlette's TestClient (lifespan included)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from obcp.api.app import create_app
from obcp.api.runtime import Runtime
from obcp.config import Settings
from obcp.iam import lockout
from obcp.meta.db import sync_url
from obcp.meta.migrate import upgrade
from tests.api.ocp import register_host, takeover

ADMIN_PASSWORD = "admin-test-password"


def make_client(db_url: str, home: Path, *, migrate: bool = True) -> TestClient:
    if migrate:
        upgrade(db_url)
    settings = Settings(home=home, db_url=db_url, admin_password=ADMIN_PASSWORD)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite metadb with its default roles and admin, made once and copied for each test."""
    home = tmp_path_factory.mktemp("template") / "home"
    with make_client(f"sqlite:///{home.parent / 'metadb.sqlite'}", home):
        pass
    return home


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path, _template_home: Path) -> Iterator[TestClient]:
    db_file = Path(make_url(sqlite_url).database or "")
    for suffix in ("", "-wal", "-shm"):
        source = _template_home.parent / f"metadb.sqlite{suffix}"
        if source.exists():
            shutil.copyfile(source, f"{db_file}{suffix}")
    shutil.copytree(_template_home, tmp_path / "home")
    with make_client(sqlite_url, tmp_path / "home", migrate=False) as c:
        yield c


@pytest.fixture
def admin() -> tuple[str, str]:
    return ("admin", ADMIN_PASSWORD)


@dataclass(frozen=True)
class Inventory:
    """Two hosts and a cluster taken over on them (zone1 on host 1, zone2 on host 2)."""

    host_ids: tuple[int, int]
    cluster: dict[str, Any]

    @property
    def cluster_id(self) -> int:
        cluster_id: int = self.cluster["id"]
        return cluster_id


@pytest.fixture
def inventory(client: TestClient, admin: tuple[str, str]) -> Inventory:
    h1 = register_host(client, admin, "10.0.0.1")
    h2 = register_host(client, admin, "10.0.0.2")
    cluster = takeover(client, admin, "c1", {"zone1": [h1], "zone2": [h2]})
    return Inventory((h1, h2), cluster)


@pytest.fixture
def login_limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Sets the lockout's OBCP_LOGIN_* settings for one test (`login_limits(max_failures=3)`)."""

    def set_limits(**values: int) -> None:
        monkeypatch.setattr(lockout, "settings", lambda: lockout.LoginSettings().model_copy(update=values))

    return set_limits


@pytest.fixture
def no_lockout(login_limits: Callable[..., None]) -> None:
    """For a test that fails logins on purpose for something else than the lockout."""
    login_limits(max_failures=1_000_000, address_max_failures=1_000_000)


@pytest.fixture
def db(client: TestClient) -> Iterator[Engine]:
    """A synchronous engine on the client's metadb, to look at rows directly."""
    engine = create_engine(sync_url(Runtime.of(client.app).settings.resolved_db_url()))
    try:
        yield engine
    finally:
        engine.dispose()
