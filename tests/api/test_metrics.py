"""GET /metrics on the API address: who may read it (a user with METRICS:*:READ, the bearer token made for
Prometheus on that path only), what its labels may carry (route templates, never raw paths or secrets), and
the second, unauthenticated listener that refuses a public address unless told the network is private."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from obcp.api.app import create_app
from obcp.config import Settings
from obcp.metrics_listener import checked_address, is_loopback
from tests.api.conftest import ADMIN_PASSWORD
from tests.api.ocp import create_user, error

TOKEN = "a-token-for-prometheus-0123456789"


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples] for f in text_string_to_metric_families(text)
    }


def test_metrics_need_a_caller_with_the_metrics_permission(
    client: TestClient, admin: tuple[str, str]
) -> None:
    error(client.get("/metrics"), 401, 3000)
    error(client.get("/metrics", auth=("admin", "wrong")), 401, 3004)
    create_user(client, admin, "profile-only", "profile-password", roles=["PROFILE"])
    error(client.get("/metrics", auth=("profile-only", "profile-password")), 403, 3100)
    create_user(client, admin, "prometheus", "prometheus-password", roles=["METRICS_VIEWER"])
    viewer = client.get("/metrics", auth=("prometheus", "prometheus-password"))
    assert viewer.status_code == 200, viewer.text
    assert viewer.headers["content-type"].startswith("text/plain; version=0.0.4")
    # The role reads the metrics and nothing else.
    error(client.get("/api/v2/ob/clusters", auth=("prometheus", "prometheus-password")), 403, 3100)
    assert client.get("/metrics", auth=admin).status_code == 200
    # Without a token file, a bearer token is no credential at all.
    error(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}), 401, 3000)


@pytest.fixture
def token_client(sqlite_url: str, tmp_path: Path) -> TestClient:
    from obcp.meta.migrate import upgrade

    upgrade(sqlite_url)
    (tmp_path / "token").write_text(f"  {TOKEN}\n")
    settings = Settings(
        home=tmp_path / "home",
        db_url=sqlite_url,
        admin_password=ADMIN_PASSWORD,
        metrics_token_file=tmp_path / "token",
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_the_bearer_token_opens_metrics_only(token_client: TestClient) -> None:
    with token_client as c:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/metrics", headers=bearer).status_code == 200
        error(c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}), 401, 3000)
        error(c.get("/metrics", headers={"Authorization": "Bearer "}), 401, 3000)
        # Anywhere else the token is refused as if it were unknown.
        error(c.get("/api/v2/ob/clusters", headers=bearer), 401, 3000)
        error(c.get("/api/v2/info", headers=bearer), 401, 3000)
        text = c.get("/metrics", headers=bearer).text
        refusals = {
            s[1]["reason"]: s[2] for s in families(text)["obcp_auth_refusals"] if s[0].endswith("_total")
        }
        assert refusals == {"bad_token": 4.0}
        assert TOKEN not in text


def test_a_short_token_file_stops_the_start(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("short")
    settings = Settings(home=tmp_path / "home", db_url=sqlite_url, metrics_token_file=tmp_path / "token")
    with pytest.raises(ValueError, match="at least 16 characters"), TestClient(create_app(settings)):
        pass


def test_labels_are_route_templates_and_unknown_paths_are_one_label(
    client: TestClient, admin: tuple[str, str]
) -> None:
    for cluster_id in (11111, 22222, 33333):
        client.get(f"/api/v2/ob/clusters/{cluster_id}", auth=admin)
    client.get("/api/v2/ob/clusters/44444")  # refused before routing: still its route's template
    for n in range(5):
        client.get(f"/no-such-page-{n}?password=hunter2", auth=admin)
    text = client.get("/metrics", auth=admin).text
    requests = [s for s in families(text)["obcp_http_requests"] if s[0] == "obcp_http_requests_total"]
    by_route = {(s[1]["route"], s[1]["status"]): s[2] for s in requests}
    assert by_route[("/api/v2/ob/clusters/{id}", "404")] == 3
    assert by_route[("/api/v2/ob/clusters/{id}", "401")] == 1
    assert by_route[("unmatched", "404")] == 5
    for raw in ("11111", "44444", "no-such-page", "hunter2", ADMIN_PASSWORD):
        assert raw not in text


def test_the_open_listener_is_loopback_only_unless_public() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("metrics.example")
    assert checked_address("127.0.0.1:9464", public=False) == ("127.0.0.1", 9464)
    assert checked_address("[::1]:9464", public=False) == ("::1", 9464)
    with pytest.raises(ValueError, match="loopback address only"):
        checked_address("0.0.0.0:9464", public=False)
    assert checked_address("0.0.0.0:9464", public=True) == ("0.0.0.0", 9464)
    with pytest.raises(ValueError, match="ADDRESS:PORT"):
        checked_address("9464", public=False)


def test_obcp_server_refuses_a_public_metrics_listener(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "obcp", "server", "--home", str(tmp_path), "--metrics-listen", "0.0.0.0:9464"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "loopback address only" in done.stderr and "--metrics-listen-public" in done.stderr
    assert not (tmp_path / "obcp.db").exists()  # refused before anything started


def test_the_open_listener_serves_metrics_without_authentication(sqlite_url: str, tmp_path: Path) -> None:
    from obcp.agent.ports import free_port
    from obcp.meta.migrate import upgrade

    upgrade(sqlite_url)
    port = free_port("127.0.0.1")
    settings = Settings(
        home=tmp_path / "home",
        db_url=sqlite_url,
        admin_password=ADMIN_PASSWORD,
        metrics_listen=f"127.0.0.1:{port}",
    )
    with TestClient(create_app(settings)) as c:
        c.get("/api/v2/time")
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert r.status_code == 200
        assert "obcp_http_requests_total" in r.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/v2/info", timeout=10).status_code == 404
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
