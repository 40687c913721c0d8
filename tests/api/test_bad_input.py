"""Bad input everywhere gets an OCP-shaped 4xx with a numeric, non-zero code and a readable message; never a
500 and never a partial write."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from obcp.api.paging import page_query
from obcp.iam import store
from obcp.meta.tables import compute_host, iam_role, iam_user, iam_user_role, ob_cluster, ob_server, ob_zone
from tests.api.conftest import Inventory
from tests.api.ocp import create_role, create_user, error, ok, register_host, takeover, takeover_body
from tests.api.test_route_auth import Endpoint, endpoints, existing

JSON = {"content-type": "application/json"}
BAD_IDS = ["0", "-1", str(2**63), str(10**30), "abc", "1.5"]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def snapshot(engine: Engine) -> dict[str, int]:
    tables = (compute_host, iam_role, iam_user, iam_user_role, ob_cluster, ob_server, ob_zone)
    return {t.name: count(engine, t) for t in tables}


def api_endpoints(client: TestClient) -> list[Endpoint]:
    return [e for e in endpoints(client.app) if e.path.startswith("/api/") and e.method != "HEAD"]


def has_body(ep: Endpoint) -> bool:
    try:
        return bool(ep.route.dependant.body_params)
    except AttributeError:
        return False


def body_optional(ep: Endpoint) -> bool:
    """Routes whose body is an obcp extension OCP clients never send (restart options): no body is fine."""
    return all(not p.field_info.is_required() for p in ep.route.dependant.body_params)


# What an optional body may be: absent, or nothing in it.
NO_OPTIONS = {"null", "empty object", "empty"}
# Routes whose every body field is optional and that address no object: without options, the call succeeds.
COMPLETE_WITHOUT_BODY = {"POST /api/v2/profiles/me/accessKeys"}


def is_paged(ep: Endpoint) -> bool:
    try:
        stack = list(ep.route.dependant.dependencies)
    except AttributeError:
        return False
    while stack:
        dep = stack.pop()
        if dep.call is page_query:
            return True
        stack.extend(dep.dependencies)
    return False


# ---- on every route ----------------------------------------------------------------------------------------


BAD_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("truncated", b'{"name": ', JSON),
    ("python literal", b"{'name': 'x'}", JSON),
    ("not UTF-8", b"\xff\xfe\x00", JSON),
    ("nested beyond the parser's limit", b"[" * 50_000 + b"]" * 50_000, JSON),
    ("array", b"[]", JSON),
    ("string", b'"just a string"', JSON),
    ("null", b"null", JSON),
    ("number", b"12", JSON),
    ("empty object", b"{}", JSON),
    ("NaN", b'{"x": NaN}', JSON),
    ("text/plain", b'{"name": "x"}', {"content-type": "text/plain"}),
    ("empty", b"", JSON),
]


def test_every_body_route_refuses_bad_json(
    client: TestClient, admin: tuple[str, str], db: Engine, subtests: pytest.Subtests
) -> None:
    routes = [ep for ep in api_endpoints(client) if has_body(ep)]
    assert len(routes) >= 7, [str(r) for r in routes]
    before = snapshot(db)
    for name, content, headers in BAD_BODIES:
        for ep in routes:
            with subtests.test(msg=f"{ep}: {name}"):
                resp = client.request(
                    ep.method, ep.url(existing), content=content, headers=headers, auth=admin
                )
                if name in NO_OPTIONS and str(ep) in COMPLETE_WITHOUT_BODY:
                    ok(resp)
                elif name in NO_OPTIONS and body_optional(ep):
                    # Then the call is made as an OCP client makes it; here it names an unknown object.
                    error(resp, 404)
                else:
                    error(resp, 400)
    assert snapshot(db) == before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_every_route_refuses_a_body_over_1_mib(
    client: TestClient, admin: tuple[str, str], db: Engine, chunked: bool
) -> None:
    before = snapshot(db)
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    for ep in api_endpoints(client):
        resp = client.request(
            ep.method, ep.url(existing), content=pieces() if chunked else big, headers=JSON, auth=admin
        )
        if chunked and not has_body(ep):
            # A route that never reads its body cannot know its size; it must still not fail.
            assert resp.status_code < 500, f"{ep}: {resp.text[:300]}"
            continue
        err = error(resp, 413, 1003)
        assert "1048576" in err["message"], err
    assert snapshot(db) == before


def test_a_body_just_under_the_limit_is_read(client: TestClient, admin: tuple[str, str]) -> None:
    body = json.dumps(
        {"name": "R_big", "description": "d", "permissions": ["TASK:*:READ"], "pad": "x" * 1_000_000}
    )
    assert len(body) < 1024 * 1024
    ok(client.post("/api/v2/iam/roles", content=body, headers=JSON, auth=admin))


def _numeric(ep: Endpoint, param: str) -> bool:
    """Whether the path parameter is a numeric id (names and AccessKeyIds are strings)."""
    try:
        params = ep.route.dependant.path_params
    except AttributeError:
        return "name" not in param.lower()
    return any(p.name == param and p.field_info.annotation is int for p in params)


def test_every_id_parameter_refuses_bad_numbers(client: TestClient, admin: tuple[str, str]) -> None:
    checked = 0
    for ep in api_endpoints(client):
        id_params = [p for p in re.findall(r"\{(\w+)", ep.path) if _numeric(ep, p)]
        for param in id_params:
            for bad in BAD_IDS:
                url = ep.url(lambda name, p=param, b=bad: b if name == p else existing(name))  # type: ignore[misc]
                err = error(client.request(ep.method, url, json={}, auth=admin), 400, 1001)
                assert param in err["message"], (str(ep), bad, err)
                checked += 1
    assert checked >= 10 * len(BAD_IDS)


def test_unknown_ids_are_404_with_ocp_codes(
    client: TestClient, admin: tuple[str, str], inventory: Inventory
) -> None:
    big = str(2**63 - 1)
    cid = inventory.cluster_id
    for method, path, code in [
        ("GET", f"/api/v2/ob/clusters/{big}", 11001),
        ("GET", f"/api/v2/ob/clusters/{big}/zones", 11001),
        ("GET", f"/api/v2/ob/clusters/{big}/servers", 11001),
        ("GET", f"/api/v2/ob/clusters/{big}/zones/zone1/servers", 11001),
        ("GET", f"/api/v2/ob/clusters/{cid}/zones/zone9/servers", 12002),
        ("GET", f"/api/v2/compute/hosts/{big}", 7005),
        ("DELETE", f"/api/v2/compute/hosts/{big}", 7005),
        ("GET", f"/api/v2/iam/users/{big}", 1002),
        ("DELETE", f"/api/v2/iam/users/{big}", 1002),
        ("GET", f"/api/v2/iam/roles/{big}", 1002),
        ("DELETE", f"/api/v2/iam/roles/{big}", 1002),
    ]:
        error(client.request(method, path, auth=admin), 404, code)
    error(client.put(f"/api/v2/iam/users/{big}/roles", json={"roles": []}, auth=admin), 404, 1002)
    error(client.put(f"/api/v2/iam/roles/{big}", json={"permissions": []}, auth=admin), 404, 1002)
    error(
        client.post(f"/api/v2/iam/users/{big}/changePassword", json={"password": "12345678"}, auth=admin),
        404,
        1002,
    )
    error(client.get("/api/v2/no/such/thing", auth=admin), 404, 1002)
    error(client.patch("/api/v2/ob/clusters", auth=admin), 405, 1008)


# ---- paged lists -------------------------------------------------------------------------------------------


BAD_PAGING = [
    "page=0",
    "page=-1",
    f"page={10**30}",
    "page=abc",
    "size=0",
    "size=-5",
    "size=2001",
    f"size={2**64}",
    "size=1.5",
    "sort=nosuchfield,asc",
    "sort=password_hash",
    "sort=id,sideways",
    "sort=,desc",
    "sort=" + "x" * 101,
]


def test_every_paged_list_refuses_bad_paging(
    client: TestClient, admin: tuple[str, str], subtests: pytest.Subtests
) -> None:
    lists = [ep for ep in api_endpoints(client) if is_paged(ep)]
    assert {"/api/v2/ob/clusters", "/api/v2/compute/hosts", "/api/v2/iam/users", "/api/v2/iam/roles"} <= {
        ep.path for ep in lists
    }
    for query in BAD_PAGING:
        for ep in lists:
            with subtests.test(msg=f"{ep}?{query}"):
                err = error(client.get(f"{ep.url(existing)}?{query}", auth=admin), 400)
                assert err["code"] in (1001, 1011), err
                assert query.split("=")[0] in err["message"] or "sort field" in err["message"], err


def test_paging_limits_that_are_allowed(client: TestClient, admin: tuple[str, str]) -> None:
    for query in ("size=2000", "size=1&page=1", "page=10000000", "sort=id", "sort=id,DESC", "sort=name,asc"):
        resp = client.get(f"/api/v2/ob/clusters?{query}", auth=admin)
        assert ok(resp)["contents"] == []


@pytest.mark.parametrize(
    "query", ["status=BOGUS", "status=RUNNING,NOPE", "withStandby=maybe", "name=" + "n" * 129]
)
def test_cluster_filters_refuse_bad_values(client: TestClient, admin: tuple[str, str], query: str) -> None:
    error(client.get(f"/api/v2/ob/clusters?{query}", auth=admin), 400, 1001)


# ---- duplicates --------------------------------------------------------------------------------------------


def test_duplicate_names_are_409(
    client: TestClient, admin: tuple[str, str], inventory: Inventory, db: Engine
) -> None:
    create_user(client, admin, "dup", "dup-password")
    create_role(client, admin, "DUP", ["TASK:*:READ"])
    before = snapshot(db)
    cases = [
        (
            client.post(
                "/api/v2/iam/users", json={"username": "dup", "password": "other-password"}, auth=admin
            ),
            1006,
        ),
        (
            client.post(
                "/api/v2/iam/users", json={"username": "admin", "password": "other-password"}, auth=admin
            ),
            1006,
        ),
        (client.post("/api/v2/iam/roles", json={"name": "DUP", "permissions": []}, auth=admin), 1006),
        (client.post("/api/v2/iam/roles", json={"name": "ADMIN", "permissions": []}, auth=admin), 1006),
        (
            client.post(
                "/api/v2/compute/hosts",
                json={"address": "10.0.0.1", "agentPort": 9, "agentKey": "another-key-123456"},
                auth=admin,
            ),
            7001,
        ),
        (
            client.post(
                "/api/v2/ob/clusters/takeover",
                json=takeover_body("c1", {"z": [inventory.host_ids[0]]}),
                auth=admin,
            ),
            11014,
        ),
    ]
    for resp, code in cases:
        error(resp, 409, code)
    # The same observer endpoint in a second cluster; the same zone twice, or one endpoint twice, in one body.
    error(
        client.post(
            "/api/v2/ob/clusters/takeover",
            json=takeover_body("c2", {"z": [inventory.host_ids[0]]}),
            auth=admin,
        ),
        400,
        1001,
    )
    body = takeover_body("c3", {"z": [inventory.host_ids[0]]}, sql_port=3881)
    body["zones"].append(dict(body["zones"][0]))
    error(client.post("/api/v2/ob/clusters/takeover", json=body, auth=admin), 400, 1001)
    body = takeover_body("c3", {"z": [inventory.host_ids[0], inventory.host_ids[0]]}, sql_port=3881)
    error(client.post("/api/v2/ob/clusters/takeover", json=body, auth=admin), 400, 1001)
    assert snapshot(db) == before


def test_a_lost_creation_race_is_409(
    client: TestClient, admin: tuple[str, str], db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas creating the same user at once: the loser's insert hits the unique key -> 409, not 500."""
    create_user(client, admin, "racer", "racer-password")
    real = store.find_user

    async def blind(conn: Any, username: str) -> Any:  # the check ran before the other replica's commit
        return None if username == "racer" else await real(conn, username)

    monkeypatch.setattr(store, "find_user", blind)
    resp = client.post(
        "/api/v2/iam/users", json={"username": "racer", "password": "racer-password"}, auth=admin
    )
    error(resp, 409, 1006)
    assert count(db, iam_user) == 2


# ---- no partial writes -------------------------------------------------------------------------------------


def test_takeover_with_one_unknown_host_writes_nothing(
    client: TestClient, admin: tuple[str, str], db: Engine
) -> None:
    h1 = register_host(client, admin, "10.0.1.1")
    h2 = register_host(client, admin, "10.0.1.2")
    before = snapshot(db)
    for hosts in ([h1, 424242], [424242]):
        body = takeover_body("partial", {"zone1": [h1], "zone2": [h2], "zone3": hosts})
        body["zones"][2]["servers"] = body["zones"][2]["servers"][-1:]
        err = error(client.post("/api/v2/ob/clusters/takeover", json=body, auth=admin), 404, 7005)
        assert "424242" in err["message"]
    assert snapshot(db) == before
    assert count(db, ob_cluster) == count(db, ob_zone) == count(db, ob_server) == 0
    # ... and the same request with the bad host fixed succeeds, so the refusal was about that host only.
    takeover(client, admin, "partial", {"zone1": [h1], "zone2": [h2]})


def test_user_with_an_unknown_role_is_not_created(
    client: TestClient, admin: tuple[str, str], db: Engine
) -> None:
    before = snapshot(db)
    resp = client.post(
        "/api/v2/iam/users",
        json={"username": "halfway", "password": "halfway-password", "roles": ["PROFILE", "NO_SUCH_ROLE"]},
        auth=admin,
    )
    err = error(resp, 404, 1002)
    assert "NO_SUCH_ROLE" in err["message"]
    assert snapshot(db) == before
    users = ok(client.get("/api/v2/iam/users?keyword=halfway", auth=admin))
    assert users["contents"] == []


def test_set_roles_with_an_unknown_role_keeps_the_old_ones(
    client: TestClient, admin: tuple[str, str], db: Engine
) -> None:
    user = create_user(client, admin, "keeper", "keeper-password", ["CLUSTER_VIEWER"])
    resp = client.put(
        f"/api/v2/iam/users/{user['id']}/roles", json={"roles": ["TASK_MANAGER", "NOPE"]}, auth=admin
    )
    error(resp, 404, 1002)
    data = ok(client.get(f"/api/v2/iam/users/{user['id']}", auth=admin))
    assert [r["name"] for r in data["roles"]] == ["CLUSTER_VIEWER"]


# ---- body fields -------------------------------------------------------------------------------------------

GOOD_HOST = {"address": "10.3.3.3", "agentPort": 2886, "agentKey": "k" * 16}
BAD_HOST_FIELDS: list[dict[str, Any]] = [
    {"address": "not an address!"},
    {"address": ""},
    {"address": 10},
    {"address": "a" * 65},
    {"agentPort": 0},
    {"agentPort": 65536},
    {"agentPort": -1},
    {"agentPort": 10**30},
    {"agentPort": "2886x"},
    {"agentPort": 1.5},
    {"agentPort": None},
    {"agentKey": "short"},
    {"agentKey": "k" * 257},
    {"agentKey": 1234567890123456789},
    {"agentKey": ["k" * 16]},
    {"name": ""},
    {"description": "d" * 256},
]


def test_host_fields_are_validated(
    client: TestClient, admin: tuple[str, str], db: Engine, subtests: pytest.Subtests
) -> None:
    for change in BAD_HOST_FIELDS:
        with subtests.test(msg=repr(change)[:80]):
            resp = client.post("/api/v2/compute/hosts", json={**GOOD_HOST, **change}, auth=admin)
            err = error(resp, 400, 1001)
            assert next(iter(change)) in err["message"], err
    for missing in GOOD_HOST:
        with subtests.test(msg=f"without {missing}"):
            body = {k: v for k, v in GOOD_HOST.items() if k != missing}
            err = error(client.post("/api/v2/compute/hosts", json=body, auth=admin), 400, 1001)
            assert missing in err["message"] and "required" in err["message"].lower()
    assert count(db, compute_host) == 0


BAD_TAKEOVERS: list[tuple[str, Any]] = [
    ("name starts with a digit", lambda b: b.update(name="1starts-with-digit")),
    ("name with a space", lambda b: b.update(name="has space")),
    ("name too long", lambda b: b.update(name="x" * 129)),
    ("password too long", lambda b: b.update(rootPassword="p" * 129)),
    ("password a number", lambda b: b.update(rootPassword=123)),
    ("no password", lambda b: b.pop("rootPassword")),
    ("no zones", lambda b: b.update(zones=[])),
    ("zones an object", lambda b: b.update(zones={"zone1": []})),
    ("zone without servers", lambda b: b["zones"][0].update(servers=[])),
    ("bad zone name", lambda b: b["zones"][0].update(name="bad zone")),
    ("host id 0", lambda b: b["zones"][0]["servers"][0].update(hostId=0)),
    ("host id 2**63", lambda b: b["zones"][0]["servers"][0].update(hostId=2**63)),
    ("host id a string", lambda b: b["zones"][0]["servers"][0].update(hostId="one")),
    ("SQL port 70000", lambda b: b["zones"][0]["servers"][0].update(sqlPort=70000)),
    ("RPC port -1", lambda b: b["zones"][0]["servers"][0].update(rpcPort=-1)),
    ("empty observer name", lambda b: b["zones"][0]["servers"][0].update(observerName="")),
    ("no SQL port", lambda b: b["zones"][0]["servers"][0].pop("sqlPort")),
    ("negative OB cluster id", lambda b: b.update(obClusterId=-3)),
    ("OB cluster id 2**64", lambda b: b.update(obClusterId=2**64)),
]


def test_takeover_fields_are_validated(
    client: TestClient, admin: tuple[str, str], db: Engine, subtests: pytest.Subtests
) -> None:
    host = register_host(client, admin, "10.4.4.4")
    for name, mutate in BAD_TAKEOVERS:
        with subtests.test(msg=name):
            body = takeover_body("fields", {"zone1": [host]})
            mutate(body)
            error(client.post("/api/v2/ob/clusters/takeover", json=body, auth=admin), 400, 1001)
    assert count(db, ob_cluster) == count(db, ob_zone) == count(db, ob_server) == 0


BAD_USERS: list[tuple[dict[str, Any], int]] = [
    ({"username": "ab", "password": "long-enough-1"}, 1001),  # too short a name
    ({"username": "has space", "password": "long-enough-1"}, 1001),
    ({"username": "x" * 65, "password": "long-enough-1"}, 1001),
    ({"username": "fine_name", "password": "short"}, 3009),
    ({"username": "fine_name", "password": "p" * 129}, 1001),
    ({"username": "fine_name", "password": 12345678}, 1001),
    ({"username": "fine_name"}, 1001),
    ({"username": "fine_name", "password": "long-enough-1", "roles": "ADMIN"}, 1001),
    ({"username": "fine_name", "password": "long-enough-1", "roles": [1]}, 1001),
    ({"username": "fine_name", "password": "long-enough-1", "roles": ["R" * 65]}, 1001),
    ({"username": "fine_name", "password": "long-enough-1", "roles": ["ADMIN"] * 101}, 1001),
    ({"username": "fine_name", "password": "long-enough-1", "email": "e" * 256}, 1001),
]


def test_user_fields_are_validated(
    client: TestClient, admin: tuple[str, str], db: Engine, subtests: pytest.Subtests
) -> None:
    for body, code in BAD_USERS:
        with subtests.test(msg=repr(body)[:80]):
            error(client.post("/api/v2/iam/users", json=body, auth=admin), 400, code)
    assert count(db, iam_user) == 1


BAD_PERMISSIONS = [
    "",
    "CLUSTER",
    "CLUSTER::READ",
    "CLUSTER:*:READ ",
    " CLUSTER:*:READ",
    "**:READ",
    "CLUSTER:**:READ",
    "CLUSTER:1;DROP TABLE:READ",
    "CLUSTER:*:READ\n",
    "CLUSTER:é:READ",
    "C:" + "x" * 300,
]


def test_bad_permission_expressions_are_refused(
    client: TestClient, admin: tuple[str, str], db: Engine, subtests: pytest.Subtests
) -> None:
    role = create_role(client, admin, "GOODPERM", ["TASK:*:READ"])
    before = count(db, iam_role)
    for permission in BAD_PERMISSIONS:
        with subtests.test(msg=repr(permission)[:60]):
            resp = client.post(
                "/api/v2/iam/roles",
                json={"name": "BADPERM", "permissions": ["TASK:*:READ", permission]},
                auth=admin,
            )
            assert error(resp, 400)["code"] in (1001, 3102)
            resp = client.put(
                f"/api/v2/iam/roles/{role['id']}", json={"permissions": [permission]}, auth=admin
            )
            assert error(resp, 400)["code"] in (1001, 3102)
    assert ok(client.get(f"/api/v2/iam/roles/{role['id']}", auth=admin))["permissions"] == ["TASK:*:READ"]
    assert count(db, iam_role) == before


def test_builtin_objects_are_protected(
    client: TestClient, admin: tuple[str, str], inventory: Inventory
) -> None:
    roles = ok(client.get("/api/v2/iam/roles?keyword=ADMIN&size=50", auth=admin))["contents"]
    admin_role = next(r for r in roles if r["name"] == "ADMIN")
    error(
        client.put(f"/api/v2/iam/roles/{admin_role['id']}", json={"permissions": []}, auth=admin), 400, 3103
    )
    error(client.delete(f"/api/v2/iam/roles/{admin_role['id']}", auth=admin), 400, 3103)
    me = ok(client.get("/api/v2/iam/current/user", auth=admin))
    error(client.delete(f"/api/v2/iam/users/{me['id']}", auth=admin), 400, 3104)
    error(
        client.put(f"/api/v2/iam/users/{me['id']}/roles", json={"roles": ["PROFILE"]}, auth=admin), 400, 1001
    )
    error(client.delete(f"/api/v2/compute/hosts/{inventory.host_ids[0]}", auth=admin), 400, 7004)
    # A user manager may not delete itself either.
    create_user(client, admin, "manager", "manager-password", ["USER_MANAGER"])
    mine = ok(client.get("/api/v2/iam/current/user", auth=("manager", "manager-password")))
    error(client.delete(f"/api/v2/iam/users/{mine['id']}", auth=("manager", "manager-password")), 400, 3108)


def test_odd_text_never_fails(client: TestClient, admin: tuple[str, str], subtests: pytest.Subtests) -> None:
    """NUL, lone surrogates, bidi controls and LIKE wildcards: refused with a 4xx or stored faithfully."""
    for i, text in enumerate(["a\x00b", "\ud800 lone surrogate", "é😀\u202e", "%_\\"]):
        with subtests.test(msg=repr(text)):
            body = {
                "address": f"10.5.5.{i}",
                "agentPort": 1,
                "agentKey": "k" * 16,
                "name": "n",
                "description": text,
            }
            resp = client.post("/api/v2/compute/hosts", content=json.dumps(body), headers=JSON, auth=admin)
            if resp.status_code == 200:
                assert ok(resp)["description"] == text
            else:
                error(resp, 400)
            quoted = quote(text.encode("utf-8", "surrogatepass"))
            for path in (
                "/api/v2/compute/hosts?keyword=",
                "/api/v2/iam/users?keyword=",
                "/api/v2/ob/clusters?name=",
            ):
                resp = client.get(path + quoted, auth=admin)
                assert resp.status_code < 500, resp.text
                if resp.status_code >= 400:
                    error(resp, 400)
    # LIKE wildcards are matched literally, not as patterns.
    assert ok(client.get("/api/v2/compute/hosts", auth=admin))["contents"]
    assert ok(client.get("/api/v2/compute/hosts", params={"keyword": "%"}, auth=admin))["contents"] == []
    assert ok(client.get("/api/v2/iam/users", params={"keyword": "_"}, auth=admin))["contents"] == []


# ---- fuzz --------------------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)


def valid_bodies(host_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        ("POST", "/api/v2/iam/users"): {
            "username": "fuzzer",
            "password": "fuzz-password",
            "roles": ["PROFILE"],
        },
        ("PUT", "/api/v2/iam/users/{userId}/roles"): {"roles": ["PROFILE"]},
        ("POST", "/api/v2/iam/users/{userId}/changePassword"): {"password": "victim-password"},
        ("POST", "/api/v2/iam/current/user/changePassword"): {
            "currentPassword": "victim-password",
            "newPassword": "victim-password",
        },
        ("POST", "/api/v2/iam/roles"): {"name": "FUZZ", "permissions": ["CLUSTER:*:READ"]},
        ("PUT", "/api/v2/iam/roles/{roleId}"): {"permissions": ["CLUSTER:*:READ"]},
        ("POST", "/api/v2/compute/hosts"): {"address": "10.7.7.7", "agentPort": 2886, "agentKey": "k" * 16},
        ("POST", "/api/v2/ob/clusters/takeover"): takeover_body("fuzz", {"zone1": [host_id]}, sql_port=4881),
    }


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _mutated(body: dict[str, Any], path: tuple[Any, ...], new: Any, drop: bool) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(body))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


def fuzz_bodies(client: TestClient, admin: tuple[str, str], host_id: int, examples: int) -> dict[int, int]:
    """Random JSON, and valid bodies with one value replaced or dropped, on every route that takes a body.

    Users are addressed through a victim user (and its own password changed with its own credentials), so a
    lucky example cannot lock the admin out of the rest of the run. Returns how often each status came.
    """
    routes = [ep for ep in api_endpoints(client) if has_body(ep)]
    bodies = valid_bodies(host_id)
    victim = create_user(client, admin, "victim", "victim-password", ["PROFILE"])
    victim_auth = ("victim", "victim-password")
    custom_role = create_role(client, admin, "FUZZ_TARGET", ["TASK:*:READ"])
    ids = {"userId": str(victim["id"]), "roleId": str(custom_role["id"])}
    statuses: dict[int, int] = {}

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        ep = data.draw(st.sampled_from(routes), label="route")
        valid = bodies.get((ep.method, ep.path))
        if valid is not None and data.draw(st.booleans(), label="mutate a valid body"):
            path = data.draw(st.sampled_from(_paths(valid)), label="at")
            value = data.draw(json_values, label="value")
            body = _mutated(valid, path, value, data.draw(st.booleans(), label="drop"))
        else:
            body = data.draw(json_values, label="body")
        url = ep.url(lambda name: ids.get(name) or existing(name))
        auth = victim_auth if ep.self_service else admin
        resp = client.request(ep.method, url, content=json.dumps(body), headers=JSON, auth=auth)
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, f"{ep} {body!r}: {resp.text[:500]}"
        if resp.status_code >= 400:
            error(resp)
        else:
            ok(resp)

    run()
    assert any(400 <= s < 500 for s in statuses), statuses
    # The admin still works: the run exercised the routes instead of locking itself out.
    ok(client.get("/api/v2/iam/current/user", auth=admin))
    return statuses


def test_fuzz_bodies_never_500(client: TestClient, admin: tuple[str, str], inventory: Inventory) -> None:
    statuses = fuzz_bodies(client, admin, inventory.host_ids[0], examples=150)
    assert sum(statuses.values()) >= 100
