"""Access keys and requests signed with them (OCP 4.x AK/SK), in process, signed by the tests' own signer.

Every case that must be refused is a 401 in OCP's envelope (code 3000) saying which part failed, and no
answer anywhere holds a secret.
"""

from __future__ import annotations

import logging
import time
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, insert, select

from obcp.api.runtime import Runtime
from obcp.meta.access_key_tables import iam_access_key, iam_access_key_replay
from obcp.meta.db import sync_url
from tests.api.conftest import Inventory
from tests.api.ocp import Auth, create_user, error, ok
from tests.support.ak_signer import Signer, canonical_query

MINE = "/api/v2/profiles/me/accessKeys"
HOST = "testserver"


def new_key(client: httpx.Client, auth: Auth, description: str | None = None) -> Signer:
    body = {} if description is None else {"description": description}
    data = ok(client.post(MINE, json=body, auth=auth))
    assert data["status"] == "ACTIVE" and data["accessKeyId"].startswith("AK")
    assert len(data["accessKeySecret"]) >= 32
    return Signer(data["accessKeyId"], data["accessKeySecret"], HOST)


@pytest.fixture
def key(client: TestClient, admin: Auth) -> Signer:
    return new_key(client, admin, "for the tests")


def refused(resp: httpx.Response, *words: str) -> str:
    # A signature that does not match is a failed login (3004, with the tries left); any other refusal 3000.
    err = error(resp, 401, 3004 if "signature does not match" in words else 3000)
    message: str = err["message"]
    for word in words:
        assert word in message, message
    return message


def test_both_content_type_variants_of_a_get_verify(client: TestClient, key: Signer) -> None:
    # One MCP server signs application/json on a GET without a body; other clients send no Content-Type.
    for content_type in ("application/json", None):
        headers = key.headers("GET", "/api/v2/iam/current/user", content_type=content_type)
        me = ok(client.get("/api/v2/iam/current/user", headers=headers))
        assert me["username"] == "admin"
    # The Content-Type signed must be the one sent.
    headers = key.headers("GET", "/api/v2/iam/current/user", content_type="application/json")
    headers["Content-Type"] = "text/plain"
    refused(client.get("/api/v2/iam/current/user", headers=headers), "signature does not match")


def test_a_body_with_non_ascii_characters(client: TestClient, key: Signer, admin: Auth) -> None:
    body = {"name": "ROLE_CN", "description": "集群只读 — é ü", "permissions": ["CLUSTER:*:READ"]}
    role = ok(key.request(client, "POST", "/api/v2/iam/roles", json_body=body))
    assert role["description"] == body["description"]
    # A body changed after signing is refused, and nothing was created.
    headers = key.headers(
        "POST", "/api/v2/iam/roles", body=b'{"name":"A1","permissions":[]}', content_type="application/json"
    )
    resp = client.post("/api/v2/iam/roles", content=b'{"name":"B2","permissions":[]}', headers=headers)
    refused(resp, "signature does not match")
    names = [
        r["name"] for r in ok(client.get("/api/v2/iam/roles", params={"size": 100}, auth=admin))["contents"]
    ]
    assert "ROLE_CN" in names and "A1" not in names and "B2" not in names


def test_query_strings_needing_encoding_and_repeated_keys(client: TestClient, key: Signer) -> None:
    params = [("keyword", "ad min/é&="), ("size", "50"), ("a", "2"), ("a", "1"), ("empty", "")]
    ok(key.request(client, "GET", "/api/v2/iam/users", params=params))
    # The server canonicalises what it received: a URL in another order, with `+` for a space, verifies.
    headers = key.headers("GET", "/api/v2/iam/users", params)
    url = "/api/v2/iam/users?size=50&a=2&empty=&keyword=ad+min%2F%C3%A9%26%3D&a=1"
    ok(client.get(url, headers=headers))
    # Repeated keys are signed in the order sent: swapping their values is another request.
    swapped = "/api/v2/iam/users?" + canonical_query(
        [(k, v) for k, v in params if k != "a"] + [("a", "1"), ("a", "2")]
    )
    refused(client.get(swapped, headers=headers), "signature does not match")
    # A query the signature does not cover is refused.
    refused(
        client.get("/api/v2/iam/users?keyword=x", headers=key.headers("GET", "/api/v2/iam/users")),
        "signature does not match",
    )


def test_x_ocp_headers_are_signed(client: TestClient, key: Signer) -> None:
    for origin in ({"x-ocp-origin": "mcp-server"}, {"X-OCP-Origin": "from-mcp", "x-ocp-b": "2"}):
        headers = key.headers(
            "GET", "/api/v2/ob/clusters", content_type="application/json", ocp_headers=origin
        )
        ok(client.get("/api/v2/ob/clusters", headers=headers))
    headers = key.headers("GET", "/api/v2/ob/clusters")
    headers["x-ocp-origin"] = "added-later"
    refused(
        client.get("/api/v2/ob/clusters", headers=headers),
        "signature does not match",
        "x-ocp-origin:added-later",
    )


def test_wrong_secret_unknown_key_and_malformed_headers(client: TestClient, key: Signer) -> None:
    path = "/api/v2/iam/current/user"
    wrong = Signer(key.key_id, key.secret[:-1] + ("x" if key.secret[-1] != "x" else "y"), HOST)
    message = refused(client.get(path, headers=wrong.headers("GET", path)), "signature does not match")
    assert key.secret not in message and wrong.secret not in message
    unknown = Signer("AKnosuchkey000000000000", key.secret, HOST)
    refused(
        client.get(path, headers=unknown.headers("GET", path)), "AKnosuchkey000000000000", "does not exist"
    )
    other_host = Signer(key.key_id, key.secret, "obcp.example:8080")
    other_headers = {**other_host.headers("GET", path), "Host": HOST}
    refused(client.get(path, headers=other_headers), "signature does not match")
    good = key.headers("GET", path)
    for authorization in (
        "OCP-ACCESS-KEY-HMACSHA1 " + key.key_id,  # no signature
        "OCP-ACCESS-KEY-HMACSHA1  " + good["Authorization"].split(" ", 1)[1],  # two spaces
        "ocp-access-key-hmacsha1 " + good["Authorization"].split(" ", 1)[1],  # lower case
        "OCP-ACCESS-KEY-HMACSHA1",
    ):
        refused(client.get(path, headers={**good, "Authorization": authorization}), "Authorization header")
    refused(client.get(path, headers={k: v for k, v in good.items() if k != "Date"}), "Date header")
    refused(client.get(path, headers={**good, "Date": "yesterday"}), "Date header", "yesterday")


def test_a_date_16_minutes_off_is_refused_with_both_times(client: TestClient, key: Signer) -> None:
    path = "/api/v2/ob/clusters"
    for offset in (-16 * 60, 16 * 60):
        date = formatdate(time.time() + offset, usegmt=True)
        message = refused(client.get(path, headers=key.headers("GET", path, date=date)), date, "seconds")
        assert message.count("GMT") == 2, message
    ok(
        client.get(
            path, headers=key.headers("GET", path, date=formatdate(time.time() - 14 * 60, usegmt=True))
        )
    )


def test_a_signed_post_is_accepted_once(client: TestClient, key: Signer) -> None:
    body = b'{"name":"ONCE","permissions":["TASK:*:READ"]}'
    headers = key.headers("POST", "/api/v2/iam/roles", body=body, content_type="application/json")
    ok(client.post("/api/v2/iam/roles", content=body, headers=headers))
    refused(client.post("/api/v2/iam/roles", content=body, headers=headers), "replay")
    # A GET may be repeated (a client polling a task with the same Date second).
    headers = key.headers("GET", "/api/v2/iam/roles")
    for _ in range(3):
        ok(client.get("/api/v2/iam/roles", headers=headers))


def test_disabled_and_deleted_keys_are_refused_at_once(client: TestClient, key: Signer, admin: Auth) -> None:
    path = "/api/v2/iam/current/user"
    ok(client.get(path, headers=key.headers("GET", path)))
    data = ok(client.post(f"{MINE}/{key.key_id}/disable", auth=admin))
    assert data["status"] == "DISABLED" and "accessKeySecret" not in data
    refused(client.get(path, headers=key.headers("GET", path)), key.key_id, "disabled")
    ok(client.post(f"{MINE}/{key.key_id}/enable", auth=admin))
    ok(client.get(path, headers=key.headers("GET", path)))
    # A key can act on its own keys, as its user would.
    listed = ok(client.get(MINE, headers=key.headers("GET", MINE)))["contents"]
    assert [k["accessKeyId"] for k in listed] == [key.key_id] and listed[0]["lastUsedTime"]
    ok(key.request(client, "DELETE", f"{MINE}/{key.key_id}"))
    refused(client.get(path, headers=key.headers("GET", path)), "does not exist")
    error(client.post(f"{MINE}/{key.key_id}/enable", auth=admin), 404, 1002)


def test_a_user_has_at_most_five_keys(client: TestClient, admin: Auth) -> None:
    keys = [new_key(client, admin, f"key {i}") for i in range(5)]
    err = error(client.post(MINE, json={}, auth=admin), 400)
    assert "5 access keys" in err["message"], err
    ok(client.delete(f"{MINE}/{keys[0].key_id}", auth=admin))
    new_key(client, admin)
    error(client.post(MINE, json={"description": "x" * 256}, auth=admin), 400)


def test_an_administrator_manages_another_users_keys(client: TestClient, admin: Auth) -> None:
    user = create_user(client, admin, "keyholder", "keyholder-password", ["CLUSTER_VIEWER"])
    holder = ("keyholder", "keyholder-password")
    key = new_key(client, holder)
    theirs = f"/api/v2/iam/users/{user['id']}/accessKeys"
    listed = ok(client.get(theirs, auth=admin))["contents"]
    assert [k["accessKeyId"] for k in listed] == [key.key_id]
    assert all("accessKeySecret" not in k for k in listed)
    # The user cannot manage another's (nor their own through the administrators' route).
    error(client.get("/api/v2/iam/users/1/accessKeys", auth=holder), 403, 3100)
    error(client.delete(f"{theirs}/{key.key_id}", auth=holder), 403, 3100)
    # Another user's key is not found under one's own path.
    error(client.post(f"{MINE}/{key.key_id}/disable", auth=admin), 404, 1002)
    ok(client.post(f"{theirs}/{key.key_id}/disable", auth=admin))
    refused(client.get(MINE, headers=key.headers("GET", MINE)), "disabled")
    ok(client.delete(f"{theirs}/{key.key_id}", auth=admin))
    assert ok(client.get(MINE, auth=holder))["contents"] == []
    error(client.get("/api/v2/iam/users/987654/accessKeys", auth=admin), 404)


def test_a_key_has_its_users_permissions(client: TestClient, admin: Auth, inventory: Inventory) -> None:
    create_user(client, admin, "viewer", "viewer-password", ["CLUSTER_VIEWER"])
    viewer = new_key(client, ("viewer", "viewer-password"))
    cid = inventory.cluster_id
    for path in (
        "/api/v2/ob/clusters",
        f"/api/v2/ob/clusters/{cid}/zones",
        f"/api/v2/ob/clusters/{cid}/servers",
    ):
        assert ok(viewer.request(client, "GET", path))["contents"]
    err = error(viewer.request(client, "POST", f"/api/v2/ob/clusters/{cid}/restart"), 403, 3100)
    assert "CLUSTER" in err["message"]
    # Disabling the user disables its keys.
    user_id = next(
        u["id"]
        for u in ok(client.get("/api/v2/iam/users", auth=admin))["contents"]
        if u["username"] == "viewer"
    )
    client.delete(f"/api/v2/iam/users/{user_id}", auth=admin)
    refused(viewer.request(client, "GET", "/api/v2/ob/clusters"), "does not exist")


def test_the_body_limit_holds_for_signed_requests(client: TestClient, key: Signer) -> None:
    body = b'{"name":"BIG","description":"' + b"x" * (1024 * 1024 + 10) + b'"}'
    headers = key.headers("POST", "/api/v2/iam/roles", body=body, content_type="application/json")
    resp = client.post("/api/v2/iam/roles", content=body, headers=headers)
    assert resp.status_code == 413, resp.text[:300]


def test_no_secret_in_any_answer_or_log(
    client: TestClient, admin: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[httpx.Response] = []
    created = client.post(MINE, json={"description": "scan"}, auth=admin)
    secret = ok(created)["accessKeySecret"]
    key = Signer(ok(created)["accessKeyId"], secret, HOST)
    wrong = Signer(key.key_id, secret[::-1], HOST)
    for signer in (key, wrong):
        for method, path in (
            ("GET", MINE),
            ("GET", "/api/v2/iam/users/1/accessKeys"),
            ("POST", f"{MINE}/{key.key_id}/enable"),
        ):
            seen.append(signer.request(client, method, path))
    seen.append(client.get(MINE, auth=admin))
    seen.append(client.get("/api/v2/openapi.json", auth=admin))
    seen.append(key.request(client, "POST", MINE, json_body={}))
    seen.append(client.get("/api/v2/iam/current/user", headers=key.headers("GET", "/x")))
    assert sum(r.status_code == 200 for r in seen) >= 6 and sum(r.status_code == 401 for r in seen) >= 3
    for resp in seen:
        text = resp.text + repr(resp.headers)
        assert secret not in text and secret[::-1] not in text, resp.text[:300]
    assert ok(seen[-2])["accessKeySecret"] not in caplog.text
    assert secret not in caplog.text


def test_an_encoded_path_and_a_utf8_ocp_header(client: TestClient, key: Signer, inventory: Inventory) -> None:
    path = f"/api/v2/ob/clusters/{inventory.cluster_id}/zones/zone%20%C3%A9/servers"
    headers = key.headers("GET", path, ocp_headers={"x-ocp-note": "données"})
    resp = client.get(path, headers={k: v.encode() if k == "x-ocp-note" else v for k, v in headers.items()})
    error(resp, 404, 12002)  # verified, then the zone is unknown


def test_the_secret_is_stored_encrypted_and_used_signatures_are_pruned(
    client: TestClient, key: Signer
) -> None:
    settings = Runtime.of(client.app).settings
    engine = create_engine(sync_url(settings.resolved_db_url()))
    try:
        with engine.begin() as conn:
            stored = conn.execute(select(iam_access_key.c.secret_enc)).scalar_one()
            conn.execute(insert(iam_access_key_replay).values(signature_hash="0" * 64, expires_at=1))
        assert key.secret not in stored
        ok(key.request(client, "POST", f"{MINE}/{key.key_id}/enable"))
        with engine.connect() as conn:
            hashes = list(conn.execute(select(iam_access_key_replay.c.signature_hash)).scalars())
            total = conn.execute(select(func.count()).select_from(iam_access_key_replay)).scalar_one()
    finally:
        engine.dispose()
    assert total == 1 and hashes != ["0" * 64]  # the expired record went; the new one is a digest
    db_file = Path(settings.resolved_db_url().split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert key.secret.encode() not in raw
