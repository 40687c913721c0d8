"""obcp.audit (the audit trail) without the API: what the summary keeps of a request, its size bound, and the
helper that records a user locked or unlocked (for the account lockout) in the caller's transaction."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from sqlalchemy import create_engine, select

from obcp import audit
from obcp.audit.redact import MAX_SUMMARY_CHARS, as_text
from obcp.meta.audit_tables import audit_event
from obcp.meta.db import Database
from obcp.meta.migrate import upgrade


def test_the_summary_keeps_the_request_without_its_secrets() -> None:
    body = {
        "name": "c1",
        "rootPassword": "p1",
        "hosts": [{"address": "10.0.0.1", "agentKey": "k1", "port": 2886}],
        "sshCredentialProperty": {"type": "PRIVATE_KEY", "privateKey": "k2", "passphrase": "p2"},
        "accessKeySecret": "s1",
        "token": "t1",
        "zoneNames": ["zone1"],
    }
    kept = audit.summary("POST", "/api/v2/x", b"force=true&password=p3", json.dumps(body).encode())
    assert kept == {
        "method": "POST",
        "path": "/api/v2/x",
        "query": {"force": "true", "password": "[redacted]"},
        "body": {
            "name": "c1",
            "rootPassword": "[redacted]",
            "hosts": [{"address": "10.0.0.1", "agentKey": "[redacted]", "port": 2886}],
            "sshCredentialProperty": "[redacted]",
            "accessKeySecret": "[redacted]",
            "token": "[redacted]",
            "zoneNames": ["zone1"],
        },
    }
    # Not JSON: a secret could be anywhere in it, so only its size is kept.
    assert audit.summary("POST", "/p", b"", b"password=p4")["body"] == "(11 bytes, not JSON)"


def test_the_stored_summary_is_bounded() -> None:
    big = audit.summary(
        "PUT", "/p", b"", json.dumps([{"name": f"n{i}", "value": "v" * 200} for i in range(60)]).encode()
    )
    text = as_text(big)
    assert len(text) <= MAX_SUMMARY_CHARS and json.loads(text)["path"] == "/p"
    assert "not kept" in json.loads(text)["body"]


def test_record_user_lock_in_the_callers_transaction(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadb.sqlite'}"
    upgrade(url)

    async def lock_then_unlock() -> None:
        db = Database(url)
        try:
            async with db.tx() as conn:
                await audit.record_user_lock(
                    conn,
                    user_id=7,
                    user_name="eve",
                    locked=True,
                    reason="5 failed logins in 10 min",
                    client_address="10.1.2.3",
                    trace_id="abc123",
                )
            # The caller's transaction fails after the call: its event goes with it.
            with contextlib.suppress(LookupError):
                async with db.tx() as conn:
                    await audit.record_user_lock(
                        conn, user_id=7, user_name="eve", locked=False, reason="admin"
                    )
                    raise LookupError("the unlock failed after the event was written")
        finally:
            await db.dispose()

    asyncio.run(lock_then_unlock())
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_event)).all()
    engine.dispose()
    assert [
        (r.action, r.resource_type, r.resource_id, r.user_name, r.client_address, r.trace_id, r.result)
        for r in rows
    ] == [("USER_LOCK", "USER", "7", "eve", "10.1.2.3", "abc123", "SUCCESS")]
    assert json.loads(rows[0].summary) == {"reason": "5 failed logins in 10 min"}
