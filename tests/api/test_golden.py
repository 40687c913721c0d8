"""Golden tests: obcp's envelope, paged lists, errors and special endpoints against OCP's API pages.

The examples are parsed out of OCP's API reference, its markdown pages in Chinese and English (read from
`OCP_API_DOCS` of `tests/api/ocp.py`; a test whose page is absent is skipped). Structures are compared key
for key, recursively: where OCP's example has keys obcp does not produce (alarm summaries, IDC ids, tenant
counts, ...), each object kind below lists the keys that are REQUIRED of obcp and the few extra keys obcp
may add (documented in OCP's field tables, or obcp's own extensions). Everything else must match exactly,
with the same JSON type on both sides.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from obcp.timefmt import iso_ms
from tests.api.conftest import Inventory
from tests.api.ocp import (
    ENVELOPE_KEYS,
    OCP_API_DOCS,
    PAGE_KEYS,
    TIMESTAMP_RE,
    TRACE_ID_RE,
    create_user,
    envelope,
    error,
    ok,
    wire,
)

LANGS = ("zh-CN", "en-US")

CLUSTER_REQUIRED = frozenset(
    {
        "createTime",
        "creator",
        "id",
        "name",
        "obClusterId",
        "obVersion",
        "regionCount",
        "serverCount",
        "standbyClusters",
        "status",
        "type",
        "zones",
    }
)
ZONE_REQUIRED = frozenset(
    {"idcName", "innerStatus", "name", "regionName", "serverCount", "servers", "status"}
)
# The zone list page (800) shows these too; the cluster list's sample zones leave them out.
ZONE_LIST_REQUIRED = ZONE_REQUIRED | {"clusterId", "createTime", "hostCount", "obClusterId", "updateTime"}
SERVER_REQUIRED = frozenset(
    {"clusterId", "hostId", "id", "innerStatus", "ip", "port", "sqlPort", "status", "updateTime", "zoneName"}
)
# obcp's extensions on a server: the host's name and the observer's name on its agent.
SERVER_EXTRA = frozenset({"hostName", "observerName"})


@dataclass(frozen=True)
class Rule:
    required: frozenset[str]
    extra: frozenset[str] = frozenset()


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def compare(actual: Any, example: Any, rules: dict[str, Rule], path: str = "$") -> list[str]:
    """Differences of structure between obcp's JSON and OCP's example; [] when they match key for key.

    An object whose path has no rule must have exactly the example's keys; with a rule, it must have the
    rule's required keys, and any key beyond the example's must be one of the rule's extras.
    """
    if _json_type(actual) != _json_type(example):
        return [f"{path}: obcp has a {_json_type(actual)}, OCP a {_json_type(example)}"]
    problems: list[str] = []
    if isinstance(actual, dict):
        rule = rules.get(path)
        # A null in an example is an absent value: OCP's own writer omits nulls (Include.NON_ABSENT).
        keys, ocp_keys = set(actual), {k for k, v in example.items() if v is not None}
        if rule is None:
            if keys != ocp_keys:
                missing, added = sorted(ocp_keys - keys), sorted(keys - ocp_keys)
                problems.append(f"{path}: missing {missing}, not in OCP's example {added}")
        else:
            assert rule.required <= ocp_keys | rule.extra, f"rule for {path} requires keys OCP does not show"
            if not rule.required <= keys:
                problems.append(f"{path}: missing required {sorted(rule.required - keys)}")
            unexpected = keys - ocp_keys - rule.extra
            if unexpected:
                problems.append(
                    f"{path}: keys in neither OCP's example nor the allowed extras {sorted(unexpected)}"
                )
        for key in keys & ocp_keys:
            problems += compare(actual[key], example[key], rules, f"{path}.{key}")
    elif isinstance(actual, list) and actual and example:
        for item in actual:
            problems += compare(item, example[0], rules, f"{path}[]")
    return problems


def ocp_page(rel: str, lang: str) -> str:
    path = OCP_API_DOCS / lang / "600.api-reference" / rel
    if not path.exists():
        pytest.skip(f"the OCP API reference page {path} is absent (OCP_API_DOCS of tests/api/ocp.py)")
    return path.read_text(encoding="utf-8")


def ocp_example(rel: str, lang: str) -> dict[str, Any]:
    """The first JSON object of the page's code blocks that is a response (an envelope or the info object)."""
    text = ocp_page(rel, lang)
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        try:
            value = json.loads(block)
        except ValueError:
            continue
        if isinstance(value, dict) and ({"successful", "artifact"} & set(value)):
            return value
    raise AssertionError(f"no JSON response example in {rel} ({lang})")


def code_blocks(rel: str, lang: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```[^\n]*\n(.*?)```", ocp_page(rel, lang), re.S)]


def assert_same_shape(actual: Any, example: Any, rules: dict[str, Rule]) -> None:
    problems = compare(actual, example, rules)
    assert not problems, "\n".join(problems)


# ---- the comparison itself must be able to fail ------------------------------------------------------------


def test_compare_detects_differences() -> None:
    example = {"a": 1, "b": {"c": "x", "d": [{"e": 1}]}}
    assert compare({"a": 2, "b": {"c": "y", "d": [{"e": 5}]}}, example, {}) == []
    assert compare({"a": 2, "b": {"c": "y", "d": [{"e": "5"}]}}, example, {})  # type of a nested value
    assert compare({"a": 2, "b": {"c": "y", "d": [{"e": 5, "f": 1}]}}, example, {})  # key added
    assert compare({"a": 2, "b": {"d": []}}, example, {})  # key missing
    rules = {"$.b": Rule(frozenset({"c"}), frozenset({"z"}))}
    assert compare({"a": 2, "b": {"c": "y", "z": 1}}, example, rules) == []
    assert compare({"a": 2, "b": {"z": 1}}, example, rules)  # required key missing
    assert compare({"a": 2, "b": {"c": "y", "q": 1}}, example, rules)  # extra not allowed


# ---- envelope and paged list -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_paged_cluster_list_matches_ocp(
    client: TestClient, admin: tuple[str, str], inventory: Inventory, lang: str
) -> None:
    example = ocp_example("300.cluster-information/100.query-clusters.md", lang)
    resp = client.get("/api/v2/ob/clusters?page=1&size=10", auth=admin)
    ok(resp)
    actual = wire(resp)
    assert set(example) == ENVELOPE_KEYS | {"data"}, "OCP's envelope keys changed?"
    assert set(example["data"]["page"]) == PAGE_KEYS
    assert_same_shape(
        actual,
        example,
        {
            # The ObCluster table documents updateTime (the sample omits it); lastOperation is obcp's
            # extension (the newest task and the outage it caused), present once a task has run;
            # parametersPendingRestart is obcp's (static parameters changed since a server's last start).
            "$.data.contents[]": Rule(
                CLUSTER_REQUIRED, frozenset({"updateTime", "lastOperation", "parametersPendingRestart"})
            ),
            "$.data.contents[].zones[]": Rule(
                ZONE_REQUIRED,
                frozenset({"clusterId", "createTime", "hostCount", "obClusterId", "updateTime"}),
            ),
        },
    )
    assert actual["data"]["page"] == {"number": 1, "size": 10, "totalElements": 1, "totalPages": 1}
    [cluster] = actual["data"]["contents"]
    assert cluster["name"] == "c1" and cluster["status"] == "RUNNING" and cluster["type"] == "PRIMARY"
    assert [z["name"] for z in cluster["zones"]] == ["zone1", "zone2"]


@pytest.mark.parametrize(
    ("page", "path_of"),
    [
        ("300.cluster-information/2400.query-servers.md", lambda c: f"/api/v2/ob/clusters/{c}/servers"),
        (
            "300.cluster-information/2500.query-servers-in-a-zone.md",
            lambda c: f"/api/v2/ob/clusters/{c}/zones/zone1/servers",
        ),
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_server_lists_match_ocp(
    client: TestClient, admin: tuple[str, str], inventory: Inventory, page: str, path_of: Any, lang: str
) -> None:
    example = ocp_example(page, lang)
    resp = client.get(path_of(inventory.cluster_id), auth=admin)
    ok(resp)
    actual = wire(resp)
    assert_same_shape(actual, example, {"$.data.contents[]": Rule(SERVER_REQUIRED, SERVER_EXTRA)})
    assert actual["data"]["contents"][0]["zoneName"] == "zone1"
    assert actual["data"]["contents"][0]["ip"] == "10.0.0.1"


@pytest.mark.parametrize("lang", LANGS)
def test_zone_list_matches_ocp(
    client: TestClient, admin: tuple[str, str], inventory: Inventory, lang: str
) -> None:
    example = ocp_example("300.cluster-information/800.check-the-zone-list-of-the-ob-cluster.md", lang)
    resp = client.get(f"/api/v2/ob/clusters/{inventory.cluster_id}/zones", auth=admin)
    ok(resp)
    actual = wire(resp)
    assert_same_shape(
        actual,
        example,
        {
            "$.data.contents[]": Rule(ZONE_LIST_REQUIRED),
            "$.data.contents[].servers[]": Rule(SERVER_REQUIRED, SERVER_EXTRA),
        },
    )
    assert [z["name"] for z in actual["data"]["contents"]] == ["zone1", "zone2"]


@pytest.mark.parametrize("lang", LANGS)
def test_host_list_matches_ocp(
    client: TestClient, admin: tuple[str, str], inventory: Inventory, lang: str
) -> None:
    example = ocp_example("500.host-module/1300.query-host-lists.md", lang)
    resp = client.get("/api/v2/compute/hosts", auth=admin)
    ok(resp)
    actual = wire(resp)
    assert_same_shape(
        actual,
        example,
        {
            # obcp registers a host by address and agent port; OCP's hardware, IDC and agent facts are absent.
            "$.data.contents[]": Rule(
                frozenset({"createTime", "id", "innerIpAddress", "name", "services", "status", "updateTime"}),
                frozenset({"address", "agentPort"}),
            ),
        },
    )
    assert actual["data"]["contents"][0]["services"] == [
        {"name": f"c1:{inventory.cluster_id}", "type": "OB_CLUSTER", "version": "4.2.1.0"}
    ]
    assert "agentKey" not in resp.text


def test_single_object_envelope(client: TestClient, admin: tuple[str, str], inventory: Inventory) -> None:
    body = envelope(client.get(f"/api/v2/ob/clusters/{inventory.cluster_id}", auth=admin))
    assert set(body) == ENVELOPE_KEYS | {"data"}
    assert body["successful"] is True and body["status"] == 200
    assert set(body["data"]) >= CLUSTER_REQUIRED


def test_no_data_response_has_no_data_key(client: TestClient, admin: tuple[str, str]) -> None:
    """OCP's NoDataResponse: null data is omitted, so the key is absent."""
    user = create_user(client, admin, "nodata", "nodata-password")
    resp = client.delete(f"/api/v2/iam/users/{user['id']}", auth=admin)
    assert resp.status_code == 200
    assert set(envelope(resp)) == ENVELOPE_KEYS


def test_nulls_are_omitted_not_written(client: TestClient, admin: tuple[str, str]) -> None:
    resp = client.post(
        "/api/v2/compute/hosts",
        json={"address": "10.9.9.9", "agentPort": 1, "agentKey": "k" * 16},
        auth=admin,
    )
    host = ok(resp)
    assert b"null" not in resp.content
    assert "description" not in host and host["address"] == "10.9.9.9"


# ---- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_error_bodies_match_ocp(client: TestClient, admin: tuple[str, str], lang: str) -> None:
    example = ocp_example("200.api-call-description.md", lang)
    assert example["status"] == 429 and example["successful"] is False
    create_user(client, admin, "viewer1", "viewer-password", ["CLUSTER_VIEWER"])
    host = {"address": "10.1.1.1", "agentPort": 2886, "agentKey": "k" * 16}
    ok(client.post("/api/v2/compute/hosts", json=host, auth=admin))
    cases = [
        (client.get("/api/v2/ob/clusters"), 401, 3000),
        (client.get("/api/v2/ob/clusters", auth=("admin", "wrong")), 401, 3004),
        (client.post("/api/v2/compute/hosts", json=host, auth=("viewer1", "viewer-password")), 403, 3100),
        (client.get("/api/v2/ob/clusters/424242", auth=admin), 404, 11001),
        (client.get("/api/v2/compute/hosts/424242", auth=admin), 404, 7005),
        (client.post("/api/v2/compute/hosts", json=host, auth=admin), 409, 7001),
        (client.get("/api/v2/ob/clusters?sort=bogus,asc", auth=admin), 400, 1011),
        (client.get("/api/v2/no/such/api", auth=admin), 404, None),
    ]
    for resp, status, code in cases:
        error(resp, status, code)
        # Exactly OCP's keys: no error.status, error.details or anything else.
        assert_same_shape(wire(resp), example, {})


def test_validation_error_has_ocp_sub_errors(client: TestClient, admin: tuple[str, str]) -> None:
    resp = client.post("/api/v2/compute/hosts", json={"address": "10.1.1.1", "agentPort": "x"}, auth=admin)
    err = error(resp, 400, 1001)
    assert err["subErrors"], err
    fields = set()
    for sub in err["subErrors"]:
        # OCP's ApiValidationError: object, field, rejectedValue, message.
        assert {"object", "field", "message"} <= set(sub) <= {"object", "field", "rejectedValue", "message"}
        fields.add(sub["field"])
    assert {"agentPort", "agentKey"} <= fields, err
    assert "agentPort" in err["message"] and "agentKey" in err["message"]


def test_401_asks_for_basic(client: TestClient) -> None:
    resp = client.get("/api/v2/iam/current/user")
    error(resp, 401, 3000)
    assert resp.headers["www-authenticate"].lower().startswith("basic")


# ---- trace id, status, timestamps --------------------------------------------------------------------------


def test_trace_id_is_16_hex_and_differs_per_request(client: TestClient, admin: tuple[str, str]) -> None:
    ids = {envelope(client.get("/api/v2/iam/current/user", auth=admin))["traceId"] for _ in range(5)}
    assert len(ids) == 5 and all(TRACE_ID_RE.match(i) for i in ids)


@pytest.mark.parametrize("authenticated", [True, False])
def test_incoming_trace_id_is_reused(client: TestClient, admin: tuple[str, str], authenticated: bool) -> None:
    resp = client.get(
        "/api/v2/iam/current/user",
        headers={"x-trace-id": "0123456789abcdef"},
        auth=admin if authenticated else None,
    )
    assert envelope(resp)["traceId"] == "0123456789abcdef"
    assert resp.headers["x-trace-id"] == "0123456789abcdef"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "semi;colon", "ünï"])
def test_unusable_trace_id_is_replaced(client: TestClient, admin: tuple[str, str], bad: str) -> None:
    resp = client.get("/api/v2/iam/current/user", headers={"x-trace-id": bad.encode()}, auth=admin)
    assert TRACE_ID_RE.match(envelope(resp)["traceId"])


def test_status_always_equals_http_status(client: TestClient, admin: tuple[str, str]) -> None:
    seen = set()
    for method, path, auth, body in [
        ("GET", "/api/v2/ob/clusters", admin, None),
        ("GET", "/api/v2/ob/clusters", None, None),
        ("GET", "/api/v2/ob/clusters/0", admin, None),
        ("GET", "/api/v2/ob/clusters/7", admin, None),
        ("PATCH", "/api/v2/ob/clusters", admin, {}),
        ("POST", "/api/v2/iam/users", admin, {"username": "admin", "password": "12345678"}),
    ]:
        resp = client.request(method, path, auth=auth, json=body)
        assert envelope(resp)["status"] == resp.status_code
        seen.add(resp.status_code)
    assert seen == {200, 400, 401, 404, 405, 409}, seen


def test_timestamps_have_ocps_format(
    client: TestClient, admin: tuple[str, str], inventory: Inventory
) -> None:
    body = envelope(client.get(f"/api/v2/ob/clusters/{inventory.cluster_id}", auth=admin))
    stamps = [body["timestamp"], body["data"]["createTime"], body["data"]["zones"][0]["updateTime"]]
    assert all(TIMESTAMP_RE.match(s) for s in stamps), stamps


@pytest.mark.parametrize(
    ("epoch_ms", "fraction"),
    [(1_600_000_000_000, ""), (1_600_000_000_740, ".74"), (1_600_000_000_107, ".107")],
)
def test_fraction_is_trimmed(epoch_ms: int, fraction: str) -> None:
    stamp = iso_ms(epoch_ms)
    assert stamp is not None and TIMESTAMP_RE.match(stamp), stamp
    assert re.sub(r"(Z|[+-]\d\d:\d\d)$", "", stamp).endswith(f":40{fraction}"), stamp


@pytest.mark.parametrize("lang", LANGS)
def test_timestamp_pattern_accepts_ocps_examples(lang: str) -> None:
    """The pattern the other tests use is OCP's: every example envelope's timestamp matches it."""
    pages = sorted((OCP_API_DOCS / lang / "600.api-reference").glob("**/*.md"))
    if not pages:
        pytest.skip(f"the OCP API reference pages are absent under {OCP_API_DOCS}")
    stamps = []
    for page in pages:
        stamps += re.findall(r'"timestamp"\s*:\s*"([^"]+)"', page.read_text(encoding="utf-8"))
    assert len(stamps) > 20
    assert [s for s in stamps if not TIMESTAMP_RE.match(s)] == []
    assert not TIMESTAMP_RE.match("2020-12-02T20:03:58.230+08:00")  # a trailing zero is trimmed by OCP
    assert not TIMESTAMP_RE.match("2020-12-02 20:03:58+08:00")


# ---- the endpoints without the envelope --------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_info_is_bare_json(client: TestClient, admin: tuple[str, str], lang: str) -> None:
    example = ocp_example("1600.other/100.query-the-basic-information-of-an-ocp-application.md", lang)
    resp = client.get("/api/v2/info", auth=admin)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    info = resp.json()
    assert "successful" not in info and "data" not in info
    # Java's build facts (buildJavaVersion, buildTime, springBootVersion) have no Python counterpart.
    required = {"artifact", "buildVersion", "group", "name"}
    assert required <= set(example)
    assert required <= set(info) <= set(example) | {"pythonVersion"}, sorted(info)
    assert all(isinstance(v, str) and v for v in info.values())
    error(client.get("/api/v2/info"), 401, 3000)


@pytest.mark.parametrize("lang", LANGS)
def test_time_is_bare_text_without_auth(client: TestClient, lang: str) -> None:
    blocks = code_blocks("1600.other/200.query-ocp-server-time.md", lang)
    assert "GET /api/v2/time" in blocks and any(TIMESTAMP_RE.match(b) for b in blocks)
    resp = client.get("/api/v2/time")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert TIMESTAMP_RE.match(resp.text), resp.text


@pytest.mark.parametrize("lang", LANGS)
def test_status_says_okay(client: TestClient, admin: tuple[str, str], lang: str) -> None:
    blocks = code_blocks("1600.other/300.query-ocp-application-status.md", lang)
    assert "okay" in blocks
    for query in ("", "?includeUnavailableComponent=true"):
        resp = client.get(f"/api/status{query}", auth=admin)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        assert resp.text == "okay"
