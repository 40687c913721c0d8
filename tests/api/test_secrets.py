"""No secret (agent keys, root passwords, user passwords) in any response, log line or error message; the
stored ones are encrypted (or hashed) with the key in OBCP_HOME."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from obcp.api.runtime import Runtime
from obcp.meta.db import sync_url
from obcp.meta.tables import compute_host, iam_user, ob_cluster
from obcp.secretbox import SecretBox
from tests.api.secret_flow import (
    AGENT_KEY,
    NEW_PASSWORD,
    ROOT_PASSWORD,
    SECRETS,
    USER_PASSWORD,
    assert_no_secret,
    exercise,
    find_secrets,
)


def test_no_secret_in_responses_or_logs(
    client: TestClient, admin: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = exercise(client, admin)
    assert_no_secret(responses)
    assert caplog.records, "nothing was logged: the scan below would prove nothing"
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert find_secrets(line) == [], line
    assert find_secrets(caplog.text) == []


def test_no_secret_in_an_unhandled_error(client: TestClient, admin: tuple[str, str]) -> None:
    """A bug that raises with a secret in its message answers a 500 envelope without it (and its trace id)."""

    async def boom() -> None:
        raise RuntimeError(f"connect failed with password {ROOT_PASSWORD}")

    client.app.add_api_route("/api/v2/test-boom", boom)  # type: ignore[attr-defined]
    resp = client.get("/api/v2/test-boom", auth=admin, headers={"x-trace-id": "feedfacecafebeef"})
    assert resp.status_code == 500
    body = resp.json()
    assert body["status"] == 500 and body["successful"] is False and body["error"]["code"] == 1999
    assert body["traceId"] == "feedfacecafebeef", body
    assert find_secrets(resp.text) == []


def test_stored_secrets_are_encrypted(client: TestClient, admin: tuple[str, str], tmp_path: Path) -> None:
    exercise(client, admin)
    settings = Runtime.of(client.app).settings
    key_file = settings.resolved_secret_key_file()
    assert Path(key_file).is_relative_to(settings.home)
    assert stat.S_IMODE(Path(key_file).stat().st_mode) == 0o600
    box = SecretBox.from_file(key_file)
    engine = create_engine(sync_url(settings.resolved_db_url()))
    try:
        with engine.connect() as conn:
            key_enc = conn.execute(select(compute_host.c.agent_key_enc)).scalar_one()
            root_enc = conn.execute(select(ob_cluster.c.root_password_enc)).scalar_one()
            hashes = list(conn.execute(select(iam_user.c.password_hash)).scalars())
    finally:
        engine.dispose()
    assert AGENT_KEY not in key_enc and box.decrypt(key_enc) == AGENT_KEY
    assert ROOT_PASSWORD not in root_enc and box.decrypt(root_enc) == ROOT_PASSWORD
    assert all(h.startswith("$argon2id$") for h in hashes)
    # Nothing in the whole database file holds a secret in clear.
    db_file = Path(settings.resolved_db_url().split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert len(raw) > 10_000
    for secret in SECRETS:
        assert secret.encode() not in raw
    # Another server's key cannot read them.
    with pytest.raises(ValueError, match=r"secret\.key"):
        SecretBox.from_file(tmp_path / "other.key").decrypt(key_enc)
    assert USER_PASSWORD != NEW_PASSWORD
