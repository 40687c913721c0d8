"""Distinctive secrets and a flow that sends them to obcp in every way a client might, valid and invalid.

Used in-process (tests/api/test_secrets.py) and against a real `obcp server` (tests/cli/test_server.py); both
then scan every response, header and log line for the secrets.
"""

from __future__ import annotations

import base64

import httpx

from tests.api.ocp import Auth, error, ok, takeover_body

AGENT_KEY = "AgentKey-Qz7xK2pV9wL4mN8r"
ROOT_PASSWORD = "RootPw-Hj3kL8qW2eR5tYu"
USER_PASSWORD = "UserPw-Bn6mV4cX1zA9sDf"
NEW_PASSWORD = "NewPw-Tg5hY7uJ2iK4oL9p"
SECRETS = (AGENT_KEY, ROOT_PASSWORD, USER_PASSWORD, NEW_PASSWORD)


def forms(secret: str) -> list[str]:
    """The secret as it could leak: plain, base64 (an echoed Basic header), or percent-encoded."""
    return [secret, base64.b64encode(secret.encode()).decode()[:16]]


def find_secrets(text: str) -> list[str]:
    return [f for s in SECRETS for f in forms(s) if f in text]


def exercise(client: httpx.Client, admin: Auth) -> list[httpx.Response]:
    """Every call that carries a secret, and the reads that could show one. Returns the responses."""
    seen: list[httpx.Response] = []

    def call(method: str, url: str, **kwargs: object) -> httpx.Response:
        resp = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        seen.append(resp)
        return resp

    host = {"address": "10.8.8.1", "agentPort": 2886, "agentKey": AGENT_KEY}
    host_id = ok(call("POST", "/api/v2/compute/hosts", json=host, auth=admin))["id"]
    # Invalid requests with the secret next to the bad field, in a bad field, or making the bad field.
    error(
        call(
            "POST",
            "/api/v2/compute/hosts",
            json={**host, "address": "10.8.8.2", "agentPort": "x"},
            auth=admin,
        )
    )
    error(
        call(
            "POST",
            "/api/v2/compute/hosts",
            json={**host, "address": "10.8.8.3", "agentKey": AGENT_KEY * 12},
            auth=admin,
        )
    )
    error(call("POST", "/api/v2/compute/hosts", json={**host, "agentKey": [AGENT_KEY]}, auth=admin), 400)
    error(
        call(
            "POST", "/api/v2/compute/hosts", json={**host, "agentKey": {"k": AGENT_KEY}, "x": 1}, auth=admin
        ),
        400,
    )
    error(call("POST", "/api/v2/compute/hosts", json=host, auth=admin), 409)  # duplicate, with the key

    body = takeover_body("secretive", {"zone1": [host_id]}, root_password=ROOT_PASSWORD)
    cluster_id = ok(call("POST", "/api/v2/ob/clusters/takeover", json=body, auth=admin))["id"]
    error(call("POST", "/api/v2/ob/clusters/takeover", json=body, auth=admin), 409)
    bad = takeover_body("other", {"zone1": [host_id]}, root_password=ROOT_PASSWORD * 8)
    error(call("POST", "/api/v2/ob/clusters/takeover", json=bad, auth=admin), 400)
    bad = takeover_body("other", {"zone1": [424242]}, root_password=ROOT_PASSWORD)
    error(call("POST", "/api/v2/ob/clusters/takeover", json=bad, auth=admin), 404)
    bad = {**takeover_body("other", {"zone1": [host_id]}), "rootPassword": [ROOT_PASSWORD]}
    error(call("POST", "/api/v2/ob/clusters/takeover", json=bad, auth=admin), 400)

    user = {"username": "secretive", "password": USER_PASSWORD, "roles": ["CLUSTER_VIEWER"]}
    user_id = ok(call("POST", "/api/v2/iam/users", json=user, auth=admin))["id"]
    error(call("POST", "/api/v2/iam/users", json=user, auth=admin), 409)
    error(call("POST", "/api/v2/iam/users", json={**user, "username": "bad name"}, auth=admin), 400)
    error(
        call("POST", "/api/v2/iam/users", json={**user, "username": "other", "roles": ["NOPE"]}, auth=admin),
        404,
    )
    error(
        call(
            "POST",
            "/api/v2/iam/users",
            json={**user, "username": "other", "password": USER_PASSWORD * 8},
            auth=admin,
        )
    )
    error(
        call(
            "POST",
            "/api/v2/iam/users",
            json={"username": "other", "password": {"p": USER_PASSWORD}},
            auth=admin,
        )
    )
    mine = ("secretive", USER_PASSWORD)
    ok(call("GET", "/api/v2/iam/current/user", auth=mine))
    error(call("GET", "/api/v2/iam/current/user", auth=("secretive", NEW_PASSWORD)), 401)
    error(call("GET", "/api/v2/iam/current/user", auth=("nobody", USER_PASSWORD)), 401)
    error(call("POST", "/api/v2/compute/hosts", json=host, auth=mine), 403)
    change = {"currentPassword": NEW_PASSWORD, "newPassword": USER_PASSWORD}
    error(call("POST", "/api/v2/iam/current/user/changePassword", json=change, auth=mine), 400)
    change = {"currentPassword": USER_PASSWORD, "newPassword": NEW_PASSWORD}
    ok(call("POST", "/api/v2/iam/current/user/changePassword", json=change, auth=mine))
    error(
        call(
            "POST",
            f"/api/v2/iam/users/{user_id}/changePassword",
            json={"password": NEW_PASSWORD[:5]},
            auth=admin,
        )
    )
    login = {"username": "secretive", "password": USER_PASSWORD}
    assert call("POST", "/api/v2/iam/login", json=login).status_code in (401, 404)  # the old password

    # The reads that show what was stored.
    for url in (
        "/api/v2/compute/hosts",
        f"/api/v2/compute/hosts/{host_id}",
        "/api/v2/ob/clusters",
        f"/api/v2/ob/clusters/{cluster_id}",
        f"/api/v2/ob/clusters/{cluster_id}/zones",
        f"/api/v2/ob/clusters/{cluster_id}/servers",
        "/api/v2/iam/users",
        f"/api/v2/iam/users/{user_id}",
        "/api/v2/iam/roles",
        "/api/v2/openapi.json",
    ):
        resp = call("GET", url, auth=admin)
        assert resp.status_code == 200, (url, resp.text[:300])
    ok(call("GET", "/api/v2/iam/current/user", auth=("secretive", NEW_PASSWORD)))
    return seen


def assert_no_secret(responses: list[httpx.Response]) -> None:
    assert len(responses) >= 25
    for resp in responses:
        text = resp.text + "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
        assert find_secrets(text) == [], f"{resp.request.method} {resp.request.url}: {text[:500]}"
