"""`obcp sandbox up` of 3 zones x 1 server from nothing against a real `obcp server`, `up` again, `status`,
`down`, `up` after `down`, and `down --purge` — all through the real CLI, real agents and real seekdb."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pymysql
import pytest

from tests.stack import ADMIN_PASSWORD, cli, obcp_server
from tests.support.processes import kill_sandbox_leftovers

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with obcp_server(tmp_path_factory.mktemp("obcp-home")) as running:
        yield running.url


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("sandbox") / "sb"
    try:
        yield root
    finally:
        kill_sandbox_leftovers(root)


def obcp(server: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cli(server, *args, check=check, timeout=300)


def status_json(server: str, root: Path) -> dict[str, Any]:
    result = obcp(server, "sandbox", "status", "--dir", str(root), "--json")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def api(server: str, path: str) -> Any:
    response = httpx.get(f"{server}{path}", auth=("admin", ADMIN_PASSWORD), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_sandbox_up_down_purge(server: str, sandbox_dir: Path) -> None:
    root = str(sandbox_dir)
    t0 = time.monotonic()
    up = obcp(server, "sandbox", "up", "--zones", "3", "--servers-per-zone", "1", "--dir", root)
    up_seconds = time.monotonic() - t0
    match = re.search(r"^cluster id: (\d+)$", up.stdout, re.M)
    assert match, up.stdout
    cluster_id = int(match.group(1))

    report = status_json(server, sandbox_dir)
    servers = report["servers"]
    assert report["clusterId"] == cluster_id and len(servers) == 3
    assert [s["address"] for s in servers] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert len({s["sqlPort"] for s in servers}) == 3
    rss_mb = [round(s["rssBytes"] / 2**20) for s in servers]
    print(f"\nsandbox up 3x1 from nothing: {up_seconds:.1f} s (CLI wall clock); observer RSS MB: {rss_mb}")
    assert all(s["agentRunning"] and s["observerRunning"] for s in servers)
    assert all(r < 400 for r in rss_mb)

    cluster = api(server, f"/api/v2/ob/clusters/{cluster_id}")
    assert cluster["name"] == "sandbox" and cluster["obVersion"] == "4.3.5.3"
    taken_over = {
        (z["name"], s["observerName"], s["sqlPort"]) for z in cluster["zones"] for s in z["servers"]
    }
    assert taken_over == {(s["zone"], s["observer"], s["sqlPort"]) for s in servers}
    hosts = {h["address"]: h for h in api(server, "/api/v2/compute/hosts?page=1&size=2000")["contents"]}
    assert {"127.0.0.2", "127.0.0.3", "127.0.0.4"} <= set(hosts)
    for row in servers:
        assert hosts[row["address"]]["id"] == row["hostId"]

    secrets = json.loads((sandbox_dir / "secrets.json").read_text())
    assert (sandbox_dir / "secrets.json").stat().st_mode & 0o077 == 0
    for row in servers:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=row["sqlPort"],
            user="root",
            password=secrets["root_password"],
            connect_timeout=5,
            read_timeout=10,
        )
        with conn.cursor() as cur:
            cur.execute("SELECT @@global.time_zone")
            assert cur.fetchone() == ("+00:00",)
        conn.close()
    assert secrets["root_password"] not in up.stdout + up.stderr

    # `up` again changes nothing: same cluster, same processes.
    again = obcp(server, "sandbox", "up", "--dir", root)
    assert f"cluster id: {cluster_id}" in again.stdout and "already registered" in again.stdout
    assert [s["observerPid"] for s in status_json(server, sandbox_dir)["servers"]] == [
        s["observerPid"] for s in servers
    ]
    mismatch = obcp(server, "sandbox", "up", "--zones", "2", "--dir", root, check=False)
    assert mismatch.returncode == 1 and "already holds a sandbox of 3 zone(s)" in mismatch.stderr

    # down stops every process it started, keeps the data; up brings the same cluster back.
    obcp(server, "sandbox", "down", "--dir", root)
    for row in servers:
        assert (
            not psutil.pid_exists(row["observerPid"])
            or psutil.Process(row["observerPid"]).status() == psutil.STATUS_ZOMBIE
        )
    stopped = status_json(server, sandbox_dir)["servers"]
    assert not any(s["agentRunning"] or s["observerRunning"] for s in stopped)
    assert all(s["initialised"] for s in stopped)
    t0 = time.monotonic()
    back = obcp(server, "sandbox", "up", "--dir", root)
    print(f"sandbox up after down (restart of 3): {time.monotonic() - t0:.1f} s")
    assert f"cluster id: {cluster_id}" in back.stdout

    t0 = time.monotonic()
    obcp(server, "sandbox", "down", "--purge", "--dir", root)
    print(f"sandbox down --purge: {time.monotonic() - t0:.1f} s")
    assert not sandbox_dir.exists()
    assert obcp(server, "sandbox", "status", "--dir", root, check=False).returncode == 1
