"""The metadb on each engine (SQLite, PostgreSQL, MariaDB): migrations, schema, and the main API flows.

The PostgreSQL and MariaDB cases skip with the reason when their server is absent (and fail instead under
OBCP_REQUIRE_ALL_DBS=1, as in CI); see tests/dbs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select

from obcp.meta.db import sync_url
from obcp.meta.migrate import current_head, upgrade
from obcp.meta.schema import metadata
from obcp.meta.tables import iam_user, ob_cluster, ob_server, ob_zone
from tests.api.conftest import make_client
from tests.api.ocp import create_user, error, ok, register_host, takeover, takeover_body
from tests.api.test_bad_input import fuzz_bodies


def _diffs(url: str) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": False, "render_as_batch": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrations_apply_and_match_the_tables(metadb_url: str) -> None:
    upgrade(metadb_url)
    engine = create_engine(sync_url(metadb_url))
    try:
        with engine.connect() as conn:
            version = MigrationContext.configure(conn).get_current_revision()
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert version == current_head()
    assert set(metadata.tables) | {"alembic_version"} == tables
    assert _diffs(metadb_url) == []
    upgrade(metadb_url)  # a second upgrade is a no-op
    assert _diffs(metadb_url) == []


def test_schema_comparison_can_fail(metadb_url: str) -> None:
    """The comparison above is not vacuous: a column the migrations lack is reported."""
    upgrade(metadb_url)
    engine = create_engine(sync_url(metadb_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE compute_host ADD COLUMN stray INTEGER")
    finally:
        engine.dispose()
    diffs = _diffs(metadb_url)
    assert any(d[0] == "remove_column" and d[3].name == "stray" for d in diffs), diffs


def _count(url: str, table: Any) -> int:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def test_api_flows(metadb_url: str, tmp_path: Path) -> None:
    admin = ("admin", "admin-test-password")
    with make_client(metadb_url, tmp_path / "home") as client:
        # Users and roles.
        user = create_user(client, admin, "viewer", "viewer-password", ["CLUSTER_VIEWER"])
        error(
            client.post("/api/v2/iam/users", json={"username": "viewer", "password": "12345678"}, auth=admin),
            409,
        )
        resp = client.post(
            "/api/v2/iam/users",
            json={"username": "ghost", "password": "ghost-password", "roles": ["NOPE"]},
            auth=admin,
        )
        error(resp, 404, 1002)
        assert _count(metadb_url, iam_user) == 2
        viewer = ("viewer", "viewer-password")
        assert ok(client.get("/api/v2/iam/current/user", auth=viewer))["id"] == user["id"]

        # Hosts.
        hosts = [
            register_host(client, admin, f"10.0.0.{i}", agent_key=f"agent-key-{i:012d}") for i in range(1, 7)
        ]
        error(
            client.post(
                "/api/v2/compute/hosts",
                json={"address": "10.0.0.1", "agentPort": 1, "agentKey": "k" * 16},
                auth=admin,
            ),
            409,
            7001,
        )
        listed = ok(client.get("/api/v2/compute/hosts?size=4&page=2&sort=id,desc", auth=admin))
        assert [h["id"] for h in listed["contents"]] == sorted(hosts, reverse=True)[4:]
        assert listed["page"] == {"number": 2, "size": 4, "totalElements": 6, "totalPages": 2}
        assert ok(client.get("/api/v2/compute/hosts?keyword=0.0.3", auth=admin))["page"]["totalElements"] == 1

        # Takeover, also refused whole when one host is unknown.
        body = takeover_body("partial", {"zone1": [hosts[0]], "zone2": [987654]})
        error(client.post("/api/v2/ob/clusters/takeover", json=body, auth=admin), 404, 7005)
        assert [_count(metadb_url, t) for t in (ob_cluster, ob_zone, ob_server)] == [0, 0, 0]
        alpha = takeover(
            client, admin, "Alpha", {"zone1": [hosts[0]], "zone2": [hosts[1]], "zone3": [hosts[2]]}
        )
        beta = takeover(client, admin, "beta", {"z1": [hosts[3], hosts[4]]})
        gamma = takeover(client, admin, "gamma-alpha", {"z1": [hosts[5]]})
        error(
            client.post(
                "/api/v2/ob/clusters/takeover",
                json=takeover_body("beta", {"z": [hosts[5]]}, sql_port=5881),
                auth=admin,
            ),
            409,
            11014,
        )
        assert (
            alpha["serverCount"] == 3 and beta["serverCount"] == 2 and len(beta["zones"][0]["servers"]) == 2
        )
        assert [_count(metadb_url, t) for t in (ob_cluster, ob_zone, ob_server)] == [3, 5, 6]

        # Cluster list: filters, paging, sort.
        def names(query: str) -> list[str]:
            return [
                c["name"] for c in ok(client.get(f"/api/v2/ob/clusters?{query}", auth=viewer))["contents"]
            ]

        assert names("") == ["Alpha", "beta", "gamma-alpha"]
        assert names("name=ALPHA&sort=id,asc") == ["Alpha", "gamma-alpha"]  # case-insensitive keyword
        assert names("name=%25") == []  # a LIKE wildcard is literal
        assert names("sort=id,desc") == ["gamma-alpha", "beta", "Alpha"]
        assert names("status=RUNNING&size=2&page=2") == ["gamma-alpha"]
        assert names("status=STOPPED,RESTARTING") == []
        assert names("status=RUNNING&status=STOPPED&withStandby=true") == ["Alpha", "beta", "gamma-alpha"]
        page = ok(client.get("/api/v2/ob/clusters?size=2", auth=viewer))["page"]
        assert page == {"number": 1, "size": 2, "totalElements": 3, "totalPages": 2}
        assert names("page=3&size=2") == []

        # Zones and servers.
        zones = ok(client.get(f"/api/v2/ob/clusters/{alpha['id']}/zones", auth=viewer))["contents"]
        assert [(z["name"], z["serverCount"], z["status"]) for z in zones] == [
            ("zone1", 1, "RUNNING"),
            ("zone2", 1, "RUNNING"),
            ("zone3", 1, "RUNNING"),
        ]
        servers = ok(client.get(f"/api/v2/ob/clusters/{beta['id']}/servers", auth=viewer))["contents"]
        assert [(s["ip"], s["sqlPort"], s["port"], s["zoneName"]) for s in servers] == [
            ("10.0.0.4", 2881, 2882, "z1"),
            ("10.0.0.5", 2881, 2882, "z1"),
        ]
        in_zone = ok(client.get(f"/api/v2/ob/clusters/{alpha['id']}/zones/zone2/servers", auth=viewer))[
            "contents"
        ]
        assert [s["ip"] for s in in_zone] == ["10.0.0.2"]
        error(client.get(f"/api/v2/ob/clusters/{alpha['id']}/zones/z1/servers", auth=viewer), 404, 12002)
        error(client.get(f"/api/v2/ob/clusters/{2**63 - 1}", auth=viewer), 404, 11001)
        got = ok(client.get(f"/api/v2/ob/clusters/{gamma['id']}", auth=viewer))
        assert got["name"] == "gamma-alpha" and got["zones"][0]["servers"][0]["hostId"] == hosts[5]
        host = ok(client.get(f"/api/v2/compute/hosts/{hosts[3]}", auth=admin))
        assert host["services"] == [
            {"name": f"beta:{beta['id']}", "type": "OB_CLUSTER", "version": "4.2.1.0"}
        ]
        error(client.delete(f"/api/v2/compute/hosts/{hosts[3]}", auth=admin), 400, 7004)

        # What a metadb itself refuses (PostgreSQL: NUL; MySQL: too long) is a 4xx, never a 500.
        for description in ("nul\x00char", "é" * 255):
            resp = client.post(
                "/api/v2/compute/hosts",
                json={
                    "address": "10.9.9.9",
                    "agentPort": 1,
                    "agentKey": "k" * 16,
                    "description": description,
                },
                auth=admin,
            )
            if resp.status_code == 200:
                ok(client.delete(f"/api/v2/compute/hosts/{ok(resp)['id']}", auth=admin))
            else:
                error(resp, 400, 1001)
        for query in (
            "/api/v2/ob/clusters?name=%00",
            "/api/v2/compute/hosts?keyword=%00",
            "/api/v2/iam/users?keyword=%00",
        ):
            assert client.get(query, auth=admin).status_code in (200, 400)
        error(client.get("/api/v2/ob/clusters", auth=("nul\x00user", "x")), 401, 3004)
        # User names are exact on every engine (MySQL's default collation ignores case and trailing spaces).
        for name in ("ADMIN", "admin ", "Admin"):
            error(client.get("/api/v2/iam/current/user", auth=(name, admin[1])), 401, 3004)


def test_fuzz_bodies_never_500(metadb_url: str, tmp_path: Path) -> None:
    """The body fuzz of tests/api/test_bad_input.py on each engine: what one metadb refuses (a NUL on
    PostgreSQL, an over-long value on MySQL) must still be a 4xx."""
    admin = ("admin", "admin-test-password")
    with make_client(metadb_url, tmp_path / "home") as client:
        host_id = register_host(client, admin, "10.0.0.1")
        fuzz_bodies(client, admin, host_id, examples=50)
