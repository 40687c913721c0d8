"""`POST /api/v2/ob/clusters/import` refuses an inconsistent description at once (400, 1001, the problem
named) and a description no observer confirms (400, 11090, each difference named), writing nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from obcp.agent.ports import free_port

KEY = "import-agent-key-0123456789"


def body(**changes: Any) -> dict[str, Any]:
    port = free_port("127.0.0.1")
    base: dict[str, Any] = {
        "name": "imported",
        "rootPassword": "Root_pw_1",
        "hosts": [{"address": "127.0.0.1", "agentPort": free_port("127.0.0.1"), "agentKey": KEY}],
        "servers": [{"observerName": "ob1", "address": "127.0.0.1", "sqlPort": port, "zoneName": "zone1"}],
    }
    return {**base, **changes}


def test_inconsistent_descriptions_are_refused(client: TestClient, admin: tuple[str, str]) -> None:
    stray = body()
    stray["servers"][0]["address"] = "127.0.0.9"
    r = client.post("/api/v2/ob/clusters/import", json=stray, auth=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == 1001, r.text
    assert "servers on 127.0.0.9, which is not among the hosts" in r.json()["error"]["message"]
    twice = body()
    twice["hosts"].append(dict(twice["hosts"][0]))
    r = client.post("/api/v2/ob/clusters/import", json=twice, auth=admin)
    assert r.status_code == 400 and "two hosts have the same address" in r.text


def test_a_description_nothing_confirms_is_refused_and_nothing_written(
    client: TestClient, admin: tuple[str, str]
) -> None:
    request = body()
    dry = client.post("/api/v2/ob/clusters/import", json={**request, "dryRun": True}, auth=admin)
    assert dry.status_code == 200, dry.text
    data = dry.json()["data"]
    assert data["dryRun"] is True and data["agrees"] is False and data["servers"][0]["answered"] is False
    r = client.post("/api/v2/ob/clusters/import", json=request, auth=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == 11090, r.text
    message = r.json()["error"]["message"]
    port = request["servers"][0]["sqlPort"]
    assert f"ob1 (127.0.0.1:{port}, zone zone1): no observer answers as root@sys" in message
    assert "host 127.0.0.1: its agent at port" in message
    assert KEY not in r.text and "Root_pw_1" not in r.text
    assert client.get("/api/v2/ob/clusters", auth=admin).json()["data"]["contents"] == []
    assert client.get("/api/v2/compute/hosts", auth=admin).json()["data"]["contents"] == []
