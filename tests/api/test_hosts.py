from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from obcp.api.runtime import Runtime
from obcp.meta.db import sync_url
from obcp.meta.tables import compute_host
from tests.api.conftest import Inventory


def stored_key(client: TestClient, host_id: int) -> str:
    engine = create_engine(sync_url(Runtime.of(client.app).db.url))
    try:
        with engine.connect() as conn:
            return str(conn.scalar(select(compute_host.c.agent_key_enc).where(compute_host.c.id == host_id)))
    finally:
        engine.dispose()


def test_agent_port_and_key_can_be_changed_and_stay_write_only(
    client: TestClient, admin: tuple[str, str], inventory: Inventory
) -> None:
    host_id = inventory.host_ids[0]
    before = stored_key(client, host_id)
    new_key = "rotated-agent-key-0123456789"
    r = client.put(
        f"/api/v2/compute/hosts/{host_id}", json={"agentPort": 3886, "agentKey": new_key}, auth=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["agentPort"] == 3886
    assert new_key not in r.text and "agentKey" not in r.json()["data"]
    after = stored_key(client, host_id)
    assert after != before and new_key not in after
    assert Runtime.of(client.app).secretbox.decrypt(after) == new_key


def test_changing_an_unknown_host_or_an_unknown_field_is_refused(
    client: TestClient, admin: tuple[str, str], inventory: Inventory
) -> None:
    r = client.put("/api/v2/compute/hosts/999", json={"agentPort": 3886}, auth=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == 7005
    r = client.put(f"/api/v2/compute/hosts/{inventory.host_ids[0]}", json={"address": "10.9.9.9"}, auth=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == 1001
