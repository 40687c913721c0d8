"""The security headers on every kind of answer — console pages, redirects, static files, the API's JSON,
its errors (401 from the auth middleware, 404, 400, 413), text answers, the OpenAPI page and document —
never a CORS grant, HSTS only over TLS; and the plain-HTTP warning of `GET /api/status`, from an app set
up as if it listened on 0.0.0.0 (in-process: nothing is bound)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from obcp.api.app import create_app
from obcp.api.security_headers import CONTENT_SECURITY_POLICY
from obcp.config import Settings
from obcp.meta.migrate import upgrade
from tests.api.conftest import ADMIN_PASSWORD

ORIGIN = {"Origin": "https://evil.example"}


def answers(client: TestClient, admin: tuple[str, str]) -> dict[str, tuple[int, dict[str, str]]]:
    """One answer of each kind, each asked for from a foreign origin."""

    async def boom() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/api/v2/test-boom", boom)  # type: ignore[attr-defined]
    calls = {
        "API 500": client.get("/api/v2/test-boom", auth=admin, headers=ORIGIN),
        "console page (redirect)": client.get("/", headers=ORIGIN, follow_redirects=False),
        "login page": client.get("/login", headers=ORIGIN),
        "static script": client.get("/static/console.js", headers=ORIGIN),
        "static 404": client.get("/static/none.js", headers=ORIGIN),
        "API JSON": client.get("/api/v2/ob/clusters", auth=admin, headers=ORIGIN),
        "API 401": client.get("/api/v2/ob/clusters", headers=ORIGIN),
        "API 404": client.get("/api/v2/nothing", auth=admin, headers=ORIGIN),
        "API 400": client.get("/api/v2/ob/clusters/x", auth=admin, headers=ORIGIN),
        "API 413": client.post("/api/v2/iam/users", auth=admin, headers=ORIGIN, content=b"x" * (2 << 20)),
        "text": client.get("/api/v2/time", headers=ORIGIN),
        "status": client.get("/api/status", auth=admin, headers=ORIGIN),
        "OpenAPI page": client.get("/api/v2/docs", headers=ORIGIN),
        "OpenAPI document": client.get("/api/v2/openapi.json", headers=ORIGIN),
        "CORS preflight": client.options(
            "/api/v2/ob/clusters", headers={**ORIGIN, "Access-Control-Request-Method": "DELETE"}
        ),
    }
    return {name: (r.status_code, dict(r.headers)) for name, r in calls.items()}


def test_every_kind_of_answer_carries_the_headers(client: TestClient, admin: tuple[str, str]) -> None:
    seen = answers(client, admin)
    statuses = {name: status for name, (status, _) in seen.items()}
    assert statuses["console page (redirect)"] == 303 and statuses["API 401"] == 401
    assert (
        statuses["API 500"] == 500
        and statuses["API 404"] == 404
        and statuses["API 400"] == 400
        and statuses["API 413"] == 413
    )
    assert statuses["login page"] == statuses["OpenAPI page"] == statuses["API JSON"] == 200
    for name, (_, headers) in seen.items():
        csp = headers.get("content-security-policy", "")
        assert csp == CONTENT_SECURITY_POLICY, name
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'", name
        assert "unsafe" not in csp and "*" not in csp, name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("referrer-policy") == "no-referrer", name
        assert headers.get("x-frame-options") == "DENY", name
        assert "access-control-allow-origin" not in headers, name
        assert "access-control-allow-methods" not in headers, name
        assert "strict-transport-security" not in headers, name  # plain HTTP: HSTS means nothing there


def test_hsts_over_https(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadb.sqlite'}"
    upgrade(url)
    settings = Settings(home=tmp_path / "home", db_url=url, admin_password=ADMIN_PASSWORD)
    # The scheme of the ASGI scope, as uvicorn sets it on a TLS listener.
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        for path in ("/login", "/api/v2/time", "/api/v2/nothing"):
            assert client.get(path).headers["strict-transport-security"] == "max-age=31536000", path
        login = client.post("/api/v2/iam/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert all("; secure" in c.lower() for c in login.headers.get_list("set-cookie"))


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_status_warns_of_plain_http_beyond_loopback(
    host: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'metadb.sqlite'}"
    upgrade(url)
    settings = Settings(
        home=tmp_path / "home", db_url=url, admin_password=ADMIN_PASSWORD, host=host, allow_plain_http=True
    )
    admin = ("admin", ADMIN_PASSWORD)
    with TestClient(create_app(settings)) as client:
        plain = client.get("/api/status", auth=admin)
        detailed = client.get("/api/status", params={"includeUnavailableComponent": "true"}, auth=admin)
    assert plain.text == "okay"  # what a health check compares stays as it was
    warned = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "plain HTTP" in r.message
    ]
    assert len(warned) == (0 if host == "127.0.0.1" else 1)  # at start
    if host == "127.0.0.1":
        assert "warning" not in plain.headers and detailed.text == "okay"
        return
    assert plain.headers["warning"].startswith('199 obcp "plain HTTP on 0.0.0.0 (--allow-plain-http)')
    assert detailed.text.startswith("okay warning: plain HTTP on 0.0.0.0") and "--tls-cert" in detailed.text
