"""Every route of the app, every method: 401 without credentials, 403 without the permission.

The routes are enumerated from `app.routes` (flattened through the included routers with FastAPI's
`iter_route_contexts`, which also carries router-level dependencies), so a route added later is covered
without editing this file.
Only the documented whitelist (`obcp.api.auth.PUBLIC_PATHS`) answers anonymously; only the self-service
routes (a caller's own profile, password and access keys, the application info and status: those depending on
`authenticated`) answer every logged-in user; every other route has a `require(...)` dependency whose
permission is checked before anything reveals whether the addressed object exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from obcp.api.auth import METRICS_PATH, PUBLIC_PATHS, authenticated
from tests.api.ocp import create_role, create_user, error

PROFILE_USER = ("profile-only", "profile-password")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, e.g. /api/v2/ob/clusters/{id}
    route: Any  # fastapi.routing.RouteContext

    def url(self, fill: Callable[[str], str]) -> str:
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: fill(m.group(1)), self.path)

    @property
    def permission_templates(self) -> list[str]:
        return [t for t in (getattr(c, "permission_template", None) for c in _calls(self.route)) if t]

    @property
    def self_service(self) -> bool:
        return authenticated in _calls(self.route)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _calls(route: Any) -> list[Callable[..., Any]]:
    """Every dependency callable of a route (its own and its routers'), however deeply nested."""
    try:
        dependant = route.dependant
    except AttributeError:  # a plain Starlette route (the OpenAPI document)
        return []
    assert isinstance(dependant, Dependant)
    found: list[Callable[..., Any]] = []
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def endpoints(app: Any) -> Iterator[Endpoint]:
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            assert route.path, route
            yield Endpoint(method, route.path, route)


def existing(name: str) -> str:
    """A plausible value of a path parameter naming an object that exists (id 1 is admin, ADMIN, ...)."""
    return "zone1" if "name" in name.lower() else "1"


def absent(name: str) -> str:
    return "no-such-zone" if "name" in name.lower() else "987654321"


@pytest.fixture
def profile_user(client: TestClient, admin: tuple[str, str]) -> tuple[str, str]:
    create_user(client, admin, *PROFILE_USER, roles=["PROFILE"])
    return PROFILE_USER


# Why each path answers without credentials. A new public path fails the test until it is justified here.
DOCUMENTED_PUBLIC = {
    "/api/v2/time": "OCP's default whitelist (ocp.iam.auth.whitelist)",
    "/api/v2/openapi.json": "the API's own description",
    "/api/v2/docs": "the page that browses the API description",
    "/api/v2/iam/login": "the console's session login (OCP has /api/v2/iam/login too)",
    "/api/v2/iam/logout": "the console's logout",
}


def protected(ep: Endpoint) -> bool:
    # GET /metrics (Prometheus' fixed path) is outside /api but behind the same authentication.
    return (ep.path.startswith("/api/") and ep.path not in PUBLIC_PATHS) or ep.path == METRICS_PATH


def test_the_whitelist_is_documented(client: TestClient) -> None:
    eps = list(endpoints(client.app))
    assert len(eps) >= 20, [str(e) for e in eps]
    assert set(PUBLIC_PATHS) <= set(DOCUMENTED_PUBLIC), sorted(set(PUBLIC_PATHS) - set(DOCUMENTED_PUBLIC))
    assert "/api/v2/time" in PUBLIC_PATHS


def test_routes_outside_api_serve_pages_not_data(client: TestClient, admin: tuple[str, str]) -> None:
    """Only /api is behind the authentication middleware, so nothing else may answer data: the console's
    pages are HTML (or a redirect to the login page), and they fetch their data from /api like any client."""
    for ep in endpoints(client.app):
        if protected(ep) or ep.path.startswith("/api/") or ep.method == "HEAD":
            continue
        assert ep.method == "GET", f"{ep}: a route outside /api may only serve pages"
        for auth in (None, admin):
            resp = client.request(ep.method, ep.url(existing), auth=auth, follow_redirects=False)
            assert resp.status_code in (200, 303, 307, 404), f"{ep}: {resp.status_code}"
            if resp.status_code == 200:
                assert resp.headers["content-type"].startswith("text/html"), f"{ep}: {resp.headers}"


def test_public_routes_answer_anonymously(client: TestClient) -> None:
    answered = 0
    for ep in endpoints(client.app):
        if ep.path in PUBLIC_PATHS:
            resp = client.request(ep.method, ep.url(existing))
            assert resp.status_code != 401 and resp.status_code < 500, str(ep)
            answered += 1
    assert answered >= 3


def test_every_protected_route_has_a_permission_or_is_self_service(client: TestClient) -> None:
    checked = 0
    for ep in endpoints(client.app):
        if not protected(ep):
            continue
        checked += 1
        if ep.self_service:
            assert not ep.permission_templates, f"{ep}: both self-service and permission-checked"
            continue
        templates = ep.permission_templates
        assert len(templates) == 1, f"{ep} has no require(...) dependency: any logged-in user may call it"
        params = set(re.findall(r"\{(\w+)", ep.path))
        used = set(re.findall(r"\{(\w+)\}", templates[0]))
        assert used <= params, f"{ep}: permission {templates[0]} names parameters the path lacks"
    assert checked >= 15


def test_self_service_routes_are_the_documented_few(client: TestClient) -> None:
    names = sorted(str(ep) for ep in endpoints(client.app) if protected(ep) and ep.self_service)
    assert names == [
        "DELETE /api/v2/profiles/me/accessKeys/{accessKeyId}",
        "GET /api/status",
        "GET /api/v2/iam/current/user",
        "GET /api/v2/info",
        "GET /api/v2/profiles/me/accessKeys",
        "GET /api/v2/profiles/me/credentials",
        "POST /api/v2/iam/current/user/changePassword",
        "POST /api/v2/profiles/me/accessKeys",
        "POST /api/v2/profiles/me/accessKeys/{accessKeyId}/disable",
        "POST /api/v2/profiles/me/accessKeys/{accessKeyId}/enable",
        "POST /api/v2/profiles/me/credentials",
    ]


def test_every_route_refuses_anonymous_callers(client: TestClient, no_lockout: None) -> None:
    refused = 0
    for ep in endpoints(client.app):
        if not protected(ep):
            continue
        # Each bad password costs an argon2 verify: one kind per route, in turn, keeps the test quick.
        bad = [("admin", "not-the-password"), ("nobody", "x"), ("", ""), ("admin", "")][refused % 4]
        for auth in (None, bad):
            resp = client.request(ep.method, ep.url(existing), auth=auth, json={})
            assert resp.status_code == 401, f"{ep} with {auth}: {resp.status_code} {resp.text[:300]}"
            if ep.method != "HEAD":
                # No credentials: 3000; a wrong password: 3004 with the tries left.
                error(resp, 401, 3000 if auth is None else 3004)
        for header in ("Basic !!!notbase64", "Bearer abc", "Basic " + "YWRtaW4=", "Basic"):
            resp = client.request(ep.method, ep.url(existing), headers={"Authorization": header})
            assert resp.status_code == 401, f"{ep} with {header!r}: {resp.status_code}"
        refused += 1
    assert refused >= 15


def test_every_route_refuses_a_user_without_the_permission(
    client: TestClient, profile_user: tuple[str, str]
) -> None:
    """A PROFILE user gets 403 (3100) on all but self-service, for existing and absent objects alike."""
    forbidden = 0
    for ep in endpoints(client.app):
        if not protected(ep):
            continue
        for fill in (existing, absent):
            # An empty object as the body: the permission is checked before the body's fields are validated.
            body: dict[str, Any] | None = {} if ep.method in ("POST", "PUT", "PATCH") else None
            resp = client.request(ep.method, ep.url(fill), auth=profile_user, json=body)
            if ep.self_service:
                assert resp.status_code not in (401, 403) and resp.status_code < 500, (
                    f"{ep}: {resp.status_code}"
                )
                continue
            assert resp.status_code == 403, f"{ep} ({fill.__name__}): {resp.status_code} {resp.text[:300]}"
            if ep.method != "HEAD":
                err = error(resp, 403, 3100)
                assert ep.permission_templates[0].split(":")[0] in err["message"]
        forbidden += not ep.self_service
    assert forbidden >= 15


def test_exactly_the_required_permission_opens_each_route(client: TestClient, admin: tuple[str, str]) -> None:
    """The other side of the 403s: a role with just the route's permission (for that object) passes the check,
    and the same permission for another object does not. One user, whose role is rewritten for each route
    (a role change takes effect at the next request)."""
    role = create_role(client, admin, "PROBE", ["PROFILE:*:*"])
    user = ("probe", "probe-password")
    create_user(client, admin, *user, roles=["PROBE"])

    def grant(permission: str) -> None:
        resp = client.put(f"/api/v2/iam/roles/{role['id']}", json={"permissions": [permission]}, auth=admin)
        assert resp.status_code == 200, resp.text

    opened = 0
    for ep in endpoints(client.app):
        if not protected(ep) or ep.self_service or ep.method == "HEAD":
            continue
        params = {name: existing(name) for name in re.findall(r"\{(\w+)", ep.path)}
        permission = ep.permission_templates[0].format(**params)
        grant(permission)
        resp = client.request(ep.method, ep.url(existing), auth=user)
        assert resp.status_code not in (401, 403), (
            f"{ep} with {permission}: {resp.status_code} {resp.text[:300]}"
        )
        assert resp.status_code < 500, f"{ep}: {resp.text[:300]}"
        opened += 1
        if "{" in ep.permission_templates[0]:
            grant(ep.permission_templates[0].format(**{k: "777" for k in params}))
            error(client.request(ep.method, ep.url(existing), auth=user), 403, 3100)
    assert opened >= 15
