from __future__ import annotations

from fastapi.testclient import TestClient


def test_current_user_is_admin(client: TestClient, admin: tuple[str, str]) -> None:
    r = client.get("/api/v2/iam/current/user", auth=admin)
    assert r.status_code == 200
    body = r.json()
    assert body["data"]["username"] == "admin"
    assert [role["name"] for role in body["data"]["roles"]] == ["ADMIN"]
