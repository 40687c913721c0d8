"""The OpenAPI document tells the truth: no 422 (obcp never answers it), the error statuses each route can
answer with OCP's error envelope, the `data` schema of successes, both authentication schemes; and real
answers validate against it. Schemathesis runs it against a live stack in tests/e2e."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from obcp.api.auth import PUBLIC_PATHS
from obcp.api.openapi_schemas import BARE, DATA, LINKS
from tests.api.conftest import Inventory
from tests.api.ocp import Auth, ok

ERROR_REF = {"$ref": "#/components/schemas/OcpErrorEnvelope"}


def spec(client: TestClient) -> dict[str, Any]:
    resp = client.get("/api/v2/openapi.json")
    assert resp.status_code == 200
    document: dict[str, Any] = resp.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_no_422_and_every_error_status_has_the_ocp_envelope(client: TestClient) -> None:
    document = spec(client)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    ops = operations(document)
    assert len(ops) >= 50
    for method, path, op in ops:
        responses = op["responses"]
        assert "422" not in responses, f"{method} {path}"
        assert "413" in responses, f"{method} {path}"
        for status, response in responses.items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"] == ERROR_REF, (method, path, status)
        protected = path.startswith("/api/") and path not in PUBLIC_PATHS
        # A public route answers 401 only as the login does, for a wrong password.
        assert ("401" in responses) is (protected or path == "/api/v2/iam/login"), f"{method} {path}"
        assert op["security"] == ([{"basicAuth": []}, {"ocpAccessKey": []}] if protected else [])
        if "{" in path:
            assert {"400", "404"} <= set(responses), f"{method} {path}"
        if method != "GET" and protected:
            assert "403" in responses, f"{method} {path}"


def test_both_authentication_schemes_are_declared(client: TestClient) -> None:
    schemes = spec(client)["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {"type": "http", "scheme": "basic"}
    ak = schemes["ocpAccessKey"]
    assert ak["type"] == "apiKey" and ak["in"] == "header" and ak["name"] == "Authorization"
    assert "OCP-ACCESS-KEY-HMACSHA1" in ak["description"] and "HMAC-SHA1" in ak["description"]


def test_the_tables_name_real_routes(client: TestClient) -> None:
    """A renamed route must take its data schema, bare answer and links along."""
    names = {f"{m} {p}" for m, p, _ in operations(spec(client))}
    assert set(DATA) <= names, sorted(set(DATA) - names)
    assert set(BARE) <= names, sorted(set(BARE) - names)
    assert set(LINKS) <= names, sorted(set(LINKS) - names)
    undescribed = sorted(n for n in names if n not in DATA and n not in BARE and " /api/" in n)
    assert undescribed == [], f"routes documented with `data` of any shape: {undescribed}"


def _validate(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    schema = document["paths"][path][method.lower()]["responses"][str(status)]["content"]["application/json"]
    resolver = {"components": document["components"], **schema["schema"]}
    jsonschema_rs.validate(resolver, body)


def test_real_answers_validate_against_the_document(
    client: TestClient, admin: Auth, inventory: Inventory
) -> None:
    document = spec(client)
    cid = inventory.cluster_id
    checked = 0
    for path, template in [
        (f"/api/v2/ob/clusters/{cid}", "/api/v2/ob/clusters/{id}"),
        ("/api/v2/ob/clusters", "/api/v2/ob/clusters"),
        (f"/api/v2/ob/clusters/{cid}/zones", "/api/v2/ob/clusters/{id}/zones"),
        (f"/api/v2/ob/clusters/{cid}/servers", "/api/v2/ob/clusters/{id}/servers"),
        ("/api/v2/compute/hosts", "/api/v2/compute/hosts"),
        ("/api/v2/iam/users", "/api/v2/iam/users"),
        ("/api/v2/iam/roles", "/api/v2/iam/roles"),
        ("/api/v2/iam/current/user", "/api/v2/iam/current/user"),
        ("/api/v2/tasks/instances", "/api/v2/tasks/instances"),
    ]:
        resp = client.get(path, auth=admin)
        ok(resp)
        _validate(document, "GET", template, 200, resp.json())
        checked += 1
    created = client.post("/api/v2/profiles/me/accessKeys", json={}, auth=admin)
    _validate(document, "POST", "/api/v2/profiles/me/accessKeys", 200, created.json())
    for resp, method, template, status in [
        (client.get("/api/v2/ob/clusters/987654", auth=admin), "GET", "/api/v2/ob/clusters/{id}", 404),
        (client.get("/api/v2/ob/clusters"), "GET", "/api/v2/ob/clusters", 401),
        (client.get("/api/v2/ob/clusters/x", auth=admin), "GET", "/api/v2/ob/clusters/{id}", 400),
    ]:
        assert resp.status_code == status
        _validate(document, method, template, status, resp.json())
    # A schema that can fail: an answer without `data` does not validate where `data` is documented.
    try:
        _validate(document, "GET", "/api/v2/ob/clusters", 200, {**resp.json(), "successful": True})
    except jsonschema_rs.ValidationError:
        pass
    else:
        raise AssertionError("the success schema accepted an error envelope")
    assert checked == 9
