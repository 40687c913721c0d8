"""Checks of OCP's wire format and helpers that drive the API, shared by the API, metadb and CLI tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

Auth = tuple[str, str]

# ISO-8601 with offset, fraction trimmed of trailing zeros (Java's OffsetDateTime as OCP's Jackson writes it).
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,2}[1-9])?(Z|[+-]\d{2}:\d{2})$")
TRACE_ID_RE = re.compile(r"^[0-9a-f]{16}$")
ENVELOPE_KEYS = frozenset({"duration", "server", "status", "successful", "timestamp", "traceId"})
PAGE_KEYS = frozenset({"number", "size", "totalElements", "totalPages"})
# OCP's ApiError: code and message always, the others only when they have a value.
ERROR_KEYS_REQUIRED = frozenset({"code", "message"})
ERROR_KEYS_ALLOWED = ERROR_KEYS_REQUIRED | {"debugMessage", "stackTrace", "target", "subErrors"}

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
OCP_API_DOCS = REFERENCE / "ocp-docs"


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def _time_key(key: str) -> bool:
    return key == "timestamp" or key.endswith("Time")


def wire(resp: httpx.Response) -> Any:
    """The JSON of a response, after checking its bytes: keys sorted at every level, compact, no null."""
    raw = resp.content

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        assert keys == sorted(keys), f"keys not sorted in {raw[:300]!r}: {keys}"
        assert len(set(keys)) == len(keys), f"duplicate keys {keys}"
        return dict(items)

    body = json.loads(raw, object_pairs_hook=pairs)
    for path, value in _walk(body):
        assert value is not None, f"null at {path} in {raw[:300]!r}"
        key = path.rsplit(".", 1)[-1]
        if _time_key(key) and isinstance(value, str):
            assert TIMESTAMP_RE.match(value), f"{path}={value!r} is not an OCP timestamp"
    # Byte for byte: what a sorted, compact Jackson-like writer produces, and nothing else.
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert raw == canonical, f"not canonical JSON: {raw[:200]!r}"
    return body


def envelope(resp: httpx.Response) -> dict[str, Any]:
    """An OCP envelope (success or error) checked in every field it always has."""
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = wire(resp)
    assert isinstance(body, dict)
    assert set(body) - {"data", "error"} == ENVELOPE_KEYS, sorted(body)
    assert body["status"] == resp.status_code, (body["status"], resp.status_code)
    assert body["successful"] is (200 <= resp.status_code < 300)
    assert TRACE_ID_RE.match(body["traceId"]) or resp.request.headers.get("x-trace-id") == body["traceId"]
    assert resp.headers.get("x-trace-id") == body["traceId"]
    assert isinstance(body["duration"], int) and 0 <= body["duration"] < 600_000
    assert isinstance(body["server"], str) and body["server"]
    if body["successful"]:
        assert "error" not in body, body
    else:
        assert "data" not in body, body
        error = body["error"]
        assert ERROR_KEYS_REQUIRED <= set(error) <= ERROR_KEYS_ALLOWED, sorted(error)
        assert isinstance(error["code"], int) and not isinstance(error["code"], bool)
        assert isinstance(error["message"], str)
    return body


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.status_code, resp.text[:2000])
    return envelope(resp).get("data")


def error(resp: httpx.Response, status: int | Sequence[int] | None = None, code: int | None = None) -> Any:
    """An OCP error: 4xx (never 5xx), numeric non-zero code, a readable message. Returns `error`."""
    statuses = [status] if isinstance(status, int) else status
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:2000])
    if statuses is not None:
        assert resp.status_code in statuses, (resp.status_code, resp.text[:2000])
    body = envelope(resp)
    err = body["error"]
    assert err["code"] != 0, err
    if code is not None:
        assert err["code"] == code, err
    message = err["message"]
    assert len(message) >= 10 and message.isprintable(), message
    for junk in ("Traceback", "sqlalchemy", "pydantic", "<class", "object at 0x"):
        assert junk not in message, message
    return err


# ---- driving the API --------------------------------------------------------------------------------------


def create_user(
    client: httpx.Client, auth: Auth, username: str, password: str, roles: Sequence[str] = ("PROFILE",)
) -> dict[str, Any]:
    resp = client.post(
        "/api/v2/iam/users",
        json={"username": username, "password": password, "roles": list(roles)},
        auth=auth,
    )
    data: dict[str, Any] = ok(resp)
    return data


def create_role(client: httpx.Client, auth: Auth, name: str, permissions: Sequence[str]) -> dict[str, Any]:
    resp = client.post("/api/v2/iam/roles", json={"name": name, "permissions": list(permissions)}, auth=auth)
    data: dict[str, Any] = ok(resp)
    return data


def register_host(
    client: httpx.Client, auth: Auth, address: str, agent_key: str = "agent-key-0123456789", port: int = 2886
) -> int:
    resp = client.post(
        "/api/v2/compute/hosts",
        json={"address": address, "agentPort": port, "agentKey": agent_key},
        auth=auth,
    )
    host_id: int = ok(resp)["id"]
    return host_id


def takeover_body(
    name: str, zones: dict[str, list[int]], root_password: str = "root-pass-1", sql_port: int = 2881
) -> dict[str, Any]:
    return {
        "name": name,
        "rootPassword": root_password,
        "obVersion": "4.2.1.0",
        "zones": [
            {
                "name": zone,
                "idcName": "idc1",
                "regionName": "region1",
                "servers": [
                    {
                        "hostId": h,
                        "sqlPort": sql_port,
                        "rpcPort": sql_port + 1,
                        "observerName": f"{name}-{zone}",
                    }
                    for h in hosts
                ],
            }
            for zone, hosts in zones.items()
        ],
    }


def takeover(
    client: httpx.Client,
    auth: Auth,
    name: str,
    zones: dict[str, list[int]],
    root_password: str = "root-pass-1",
    sql_port: int = 2881,
) -> dict[str, Any]:
    resp = client.post(
        "/api/v2/ob/clusters/takeover", json=takeover_body(name, zones, root_password, sql_port), auth=auth
    )
    data: dict[str, Any] = ok(resp)
    return data
