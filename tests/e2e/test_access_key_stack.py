"""An OCP 4.x client's view, end to end: with an access key (signed as the public clients sign, by the tests'
own signer), list the clusters, zones and servers of a real sandbox (seekdb observers behind real agents),
restart the cluster and follow its task to the end; a CLUSTER_VIEWER's key cannot restart. The server's log
holds neither secret."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.ocp import create_user, error, ok
from tests.stack import ADMIN_PASSWORD, running_stack
from tests.support.ak_signer import Signer

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

ADMIN = ("admin", ADMIN_PASSWORD)


def new_key(http: httpx.Client, auth: tuple[str, str], host: str) -> Signer:
    data = ok(http.post("/api/v2/profiles/me/accessKeys", json={"description": "e2e"}, auth=auth))
    return Signer(data["accessKeyId"], data["accessKeySecret"], host)


def follow(http: httpx.Client, key: Signer, task_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        # One MCP server's way: application/json and x-ocp-origin signed on every GET.
        task: dict[str, Any] = ok(
            key.request(
                http,
                "GET",
                f"/api/v2/tasks/instances/{task_id}",
                content_type="application/json",
                ocp_headers={"x-ocp-origin": "mcp-server"},
            )
        )
        if task["status"] != "RUNNING":
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.5)


def test_list_restart_and_follow_with_an_access_key(tmp_path: Path) -> None:
    with running_stack(tmp_path, zones=1) as (server, _, sb):
        host = server.url.removeprefix("http://")
        with httpx.Client(base_url=server.url, timeout=30) as http:
            admin_key = new_key(http, ADMIN, host)
            create_user(http, ADMIN, "viewer", "viewer-password-1", ["CLUSTER_VIEWER"])
            viewer_key = new_key(http, ("viewer", "viewer-password-1"), host)
            cid = sb.cluster_id
            clusters = ok(
                admin_key.request(http, "GET", "/api/v2/ob/clusters", params=[("page", "1"), ("size", "10")])
            )
            assert [c["id"] for c in clusters["contents"]] == [cid]
            zones = ok(admin_key.request(http, "GET", f"/api/v2/ob/clusters/{cid}/zones"))["contents"]
            servers = ok(admin_key.request(http, "GET", f"/api/v2/ob/clusters/{cid}/servers"))["contents"]
            assert len(zones) == 1 and len(servers) == 1
            assert ok(viewer_key.request(http, "GET", f"/api/v2/ob/clusters/{cid}/servers"))["contents"]
            error(viewer_key.request(http, "POST", f"/api/v2/ob/clusters/{cid}/restart"), 403, 3100)
            task = ok(admin_key.request(http, "POST", f"/api/v2/ob/clusters/{cid}/restart"))
            assert task["name"] == "Restart OB cluster"
            done = follow(http, admin_key, int(task["id"]))
            assert done["status"] == "SUCCESSFUL", done
            assert ok(admin_key.request(http, "GET", f"/api/v2/ob/clusters/{cid}"))["status"] == "RUNNING"
        log = server.log()
        assert "Restart OB cluster" in log or "restart" in log.lower(), log[-2000:]
        for secret in (admin_key.secret, viewer_key.secret):
            assert secret not in log
