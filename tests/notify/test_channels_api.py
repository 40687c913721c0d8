"""Notification channels through the API (an in-process app on SQLite): OCP's envelope and paging, OCP's
alarm error codes for bad input, the alarm permissions of OCP's default roles, a secret that never comes
back; and a parameter-pending-restart event written to the outbox in its transaction and delivered by the
app's own sender to a real HTTP receiver on loopback, with a signature checked independently."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from obcp.api.runtime import Runtime
from obcp.meta.alarm_tables import alarm_channel
from obcp.meta.db import sync_url
from obcp.notify import outbox
from obcp.notify.events import PendingParameter
from obcp.secretbox import SecretBox
from tests.api.conftest import ADMIN_PASSWORD, make_client
from tests.api.ocp import create_user, error, ok
from tests.notify.receiver import Receiver, running_receiver, verify_signature

ADMIN = ("admin", ADMIN_PASSWORD)
SECRET = "whsec-channel-api-0123456789"
TOKEN = "Bearer tok-never-shown-4242"
PATH = "/api/v2/alarm/channels"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OBCP_NOTIFY_POLL_SECONDS", "0.1")
    with make_client(sqlite_url, tmp_path / "home") as c:
        yield c


def body(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "dba-oncall",
        "url": url,
        "secret": SECRET,
        "headers": {"X-Team": "dba", "Authorization": TOKEN},
        "subscriptions": [
            {"event": "TASK_FAILED"},
            {"event": "PARAMETER_PENDING_RESTART", "clusterIds": [5]},
        ],
        **extra,
    }


def test_channel_lifecycle_and_the_secret_never_shown(client: TestClient, receiver: Receiver) -> None:
    answers: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> Any:
        resp = client.request(method, path, auth=ADMIN, **kwargs)
        answers.append(resp.text)
        return resp

    created = ok(call("POST", PATH, json=body(f"{receiver.base}/ok", description="pager")))
    assert created["type"] == "HTTP" and created["secretConfigured"] is True and created["creator"] == "admin"
    assert created["headers"] == {"X-Team": "dba", "Authorization": "******"}
    assert created["subscriptions"][1] == {
        "event": "PARAMETER_PENDING_RESTART",
        "taskNames": [],
        "clusterIds": [5],
    }
    cid = created["id"]
    ok(call("POST", PATH, json={**body(f"{receiver.base}/fail"), "name": "second"}))
    listed = ok(call("GET", PATH, params={"size": 1, "sort": "name,desc"}))
    assert listed["page"] == {"number": 1, "size": 1, "totalElements": 2, "totalPages": 2}
    assert [c["name"] for c in listed["contents"]] == ["second"]
    assert ok(call("GET", PATH, params={"name": "oncall"}))["page"]["totalElements"] == 1

    changed = ok(call("PUT", f"{PATH}/{cid}", json={"secret": "another-secret-0123456789", "enabled": False}))
    assert changed["enabled"] is False and changed["url"] == f"{receiver.base}/ok"
    assert ok(call("GET", f"{PATH}/{cid}"))["updateTime"]
    assert ok(call("GET", f"{PATH}/{cid}/deliveries"))["page"]["totalElements"] == 0

    runtime = Runtime.of(client.app)
    engine = create_engine(sync_url(runtime.settings.resolved_db_url()))
    with engine.connect() as conn:
        stored = conn.execute(select(alarm_channel).where(alarm_channel.c.id == cid)).one()
    engine.dispose()
    assert "another-secret" not in stored.secret_enc and "tok-never-shown" not in stored.headers_enc
    box = SecretBox.from_file(runtime.settings.resolved_secret_key_file())
    assert box.decrypt(stored.secret_enc) == "another-secret-0123456789"
    assert TOKEN in box.decrypt(stored.headers_enc)

    ok(call("DELETE", f"{PATH}/{cid}"))
    error(call("GET", f"{PATH}/{cid}"), 404, 6027)
    error(call("GET", f"{PATH}/{cid}/deliveries"), 404, 6027)
    error(call("DELETE", f"{PATH}/{cid}"), 404, 6027)
    for text in answers:
        for secret in (SECRET, "another-secret", "tok-never-shown", "secret_enc", "headers_enc"):
            assert secret not in text, text


BAD: list[tuple[dict[str, Any], int]] = [
    ({"name": ""}, 6051),
    ({"name": " padded "}, 6052),
    ({"type": "DINGDING"}, 6041),
    ({"url": "ftp://127.0.0.1/x"}, 6045),
    ({"url": "http://user:pw@127.0.0.1/x"}, 6045),
    ({"url": "http://127.0.0.1:99999/x"}, 6045),
    ({"url": "http://10.0.0.1/hook"}, 6024),  # outside OBCP_CONNECT_ALLOW (127.0.0.0/8 in the tests)
    ({"url": "http://hooks.example.com/x"}, 6024),  # a host name: never resolved under the policy
    ({"headers": {"Content-Type": "text/plain"}}, 6040),
    ({"headers": {"X-OBCP-Signature": "forged"}}, 6040),
    ({"headers": {"X-Evil": "a\r\nInjected: 1"}}, 6040),
    ({"headers": {"bad name": "x"}}, 6040),
    ({"headers": {"X-Name": "caf\u00e9"}}, 6040),
    ({"subscriptions": [{"event": "PARAMETER_PENDING_RESTART", "taskNames": ["x"]}]}, 6000),
    ({"subscriptions": []}, 1001),
    ({"subscriptions": [{"event": "TASK_EXPLODED"}]}, 1001),
    ({"secret": "short"}, 1001),
]


def test_bad_channels_get_ocp_alarm_codes(client: TestClient, receiver: Receiver) -> None:
    ok(client.post(PATH, json=body(f"{receiver.base}/ok"), auth=ADMIN))
    error(client.post(PATH, json=body(f"{receiver.base}/ok"), auth=ADMIN), 409, 6050)
    for change, code in BAD:
        err = error(
            client.post(PATH, json={**body(f"{receiver.base}/ok"), "name": "n2", **change}, auth=ADMIN)
        )
        assert err["code"] == code, (change, err)
    other = ok(client.post(PATH, json={**body(f"{receiver.base}/ok"), "name": "other"}, auth=ADMIN))
    error(client.put(f"{PATH}/{other['id']}", json={"name": "dba-oncall"}, auth=ADMIN), 409, 6050)
    error(client.put(f"{PATH}/{other['id']}", json={}, auth=ADMIN), 400)
    error(client.put(f"{PATH}/{other['id']}", json={"url": "http://10.1.1.1/"}, auth=ADMIN), 400, 6024)
    assert ok(client.get(PATH, auth=ADMIN))["page"]["totalElements"] == 2


def test_alarm_permissions_of_the_default_roles(client: TestClient, receiver: Receiver) -> None:
    cid = ok(client.post(PATH, json=body(f"{receiver.base}/ok"), auth=ADMIN))["id"]
    for role, can_read, can_write in [
        ("ALARM_MANAGER", True, True),
        ("ALARM_VIEWER", True, False),
        ("CLUSTER_VIEWER", True, False),
        ("TASK_VIEWER", False, False),
    ]:
        user = (role.lower(), f"{role.lower()}-password")
        create_user(client, ADMIN, user[0], user[1], [role])
        reads = [client.get(PATH, auth=user), client.get(f"{PATH}/{cid}/deliveries", auth=user)]
        for resp in reads:
            if can_read:
                ok(resp)
            else:
                assert "Required permission: ALARM:" in error(resp, 403, 3100)["message"]
        write = client.put(f"{PATH}/{cid}", json={"description": role}, auth=user)
        if can_write:
            ok(write)
        else:
            assert f"ALARM:{cid}:UPDATE" in error(write, 403, 3100)["message"]


def test_parameter_pending_restart_is_written_in_its_transaction_and_delivered(
    client: TestClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """The parameter change's transaction calls outbox.parameters_pending (obcp.parameters.apply); here it is
    called in a transaction of the test's own, without a cluster to change (no parameter change runs
    in-process), and the app's sender delivers what it wrote."""
    caplog.set_level(logging.INFO)  # what `obcp server` logs by default
    cid = ok(client.post(PATH, json=body(f"{receiver.base}/ok"), auth=ADMIN))["id"]
    ok(client.post(PATH, json={**body(f"{receiver.base}/ok"), "name": "elsewhere",
                               "subscriptions": [{"event": "PARAMETER_PENDING_RESTART", "clusterIds": [6]}]},
                   auth=ADMIN))  # fmt: skip
    engine = create_engine(sync_url(Runtime.of(client.app).settings.resolved_db_url()))
    pending = [PendingParameter("memory_limit", "2G", "3G", (11, 12))]
    with engine.begin() as conn:
        outbox.parameters_pending(conn, 5, pending, changed_by="admin", trace_id="trace-param-1")
    with engine.connect() as conn:  # a rolled-back change leaves nothing behind
        tx = conn.begin()
        outbox.parameters_pending(conn, 5, pending, changed_by="admin", trace_id="rolled-back")
        tx.rollback()
    engine.dispose()
    (got,) = receiver.wait("/ok", 1)
    verify_signature(SECRET, got)
    assert got.headers["authorization"] == TOKEN and got.headers["x-team"] == "dba"
    assert got.headers["x-obcp-event"] == "PARAMETER_PENDING_RESTART"
    payload = got.json
    assert payload["deliveryId"] == got.delivery_id and payload["traceId"] == "trace-param-1"
    assert payload["cluster"] == {"id": 5, "name": None} and payload["changedBy"] == "admin"
    assert payload["parameters"] == [
        {"name": "memory_limit", "oldValue": "2G", "newValue": "3G", "pendingServerIds": [11, 12]}
    ]
    deadline = time.monotonic() + 30
    while True:
        page = ok(client.get(f"{PATH}/{cid}/deliveries", auth=ADMIN))
        if page["contents"] and page["contents"][0]["status"] == "SENT":
            break
        assert time.monotonic() < deadline, page
        time.sleep(0.1)
    (delivery,) = page["contents"]
    assert delivery["deliveryId"] == got.delivery_id and delivery["attemptCount"] == 1
    assert [a["statusCode"] for a in delivery["attempts"]] == [200]
    time.sleep(0.5)  # a few more sender polls: nothing else is sent (one channel matched, one event)
    assert len(receiver.on("/ok")) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged and "tok-never-shown" not in logged
    assert receiver.base not in logged  # not even the URL (httpx would log it at INFO)


async def test_rotating_the_secret_key_reencrypts_channels(client: TestClient, receiver: Receiver) -> None:
    """The signing secret and the headers (which may carry tokens) follow the secret key's rotation."""
    from obcp import secret_rotation
    from obcp.meta.db import Database
    from obcp.secretbox import new_key_path, write_new_key

    with_headers = ok(client.post(PATH, json=body(f"{receiver.base}/ok"), auth=ADMIN))
    plain = body(f"{receiver.base}/ok", name="no-headers")
    del plain["headers"]
    ok(client.post(PATH, json=plain, auth=ADMIN))
    settings = Runtime.of(client.app).settings
    key_file = settings.resolved_secret_key_file()
    assert write_new_key(new_key_path(key_file))
    box = SecretBox.from_file(key_file)
    db = Database(settings.resolved_db_url())
    try:
        done = {r.column: r for r in await secret_rotation.rotate(db, box)}
        assert done["alarm_channel.secret_enc"].rotated == 2
        assert done["alarm_channel.headers_enc"].rotated == 2
        await secret_rotation.promote(db, key_file, box)
    finally:
        await db.dispose()
    # The new key alone reads both.
    only_new = SecretBox.from_file(key_file)
    engine = create_engine(sync_url(settings.resolved_db_url()))
    with engine.connect() as conn:
        row = conn.execute(select(alarm_channel).where(alarm_channel.c.id == with_headers["id"])).one()
    engine.dispose()
    assert only_new.decrypt(row.secret_enc) == SECRET and TOKEN in only_new.decrypt(row.headers_enc)


def test_channel_changes_are_audited_without_secret_or_headers(
    client: TestClient, receiver: Receiver
) -> None:
    created = ok(client.post(PATH, json=body(f"{receiver.base}/ok", name="audited"), auth=ADMIN))
    ok(client.put(f"{PATH}/{created['id']}", json={"enabled": False}, auth=ADMIN))
    ok(client.delete(f"{PATH}/{created['id']}", auth=ADMIN))
    events = ok(client.get("/api/v2/audit/events", params={"resourceType": "ALARM_CHANNEL"}, auth=ADMIN))
    got = sorted((e["action"], e["resourceId"], e["result"]) for e in events["contents"])
    cid = str(created["id"])
    assert got == [
        ("ALARM_CHANNEL_CREATE", cid, "SUCCESS"),
        ("ALARM_CHANNEL_DELETE", cid, "SUCCESS"),
        ("ALARM_CHANNEL_UPDATE", cid, "SUCCESS"),
    ], events
    text = str(events)
    assert SECRET not in text and "tok-never-shown" not in text and "dba" not in text, text
