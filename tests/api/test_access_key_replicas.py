"""Two `obcp server` replicas on one PostgreSQL metadb (as behind a load balancer: one Host name): a signed
POST accepted by one is refused as a replay by the other, and a key disabled through one is refused by the
other at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from obcp.meta.migrate import upgrade
from obcp.secretbox import SecretBox
from tests.api.ocp import error, ok
from tests.dbs import temporary_database
from tests.engine.servers import ADMIN, Server, stop_all
from tests.support.ak_signer import Signer

pytestmark = pytest.mark.slow


def test_replay_and_disable_across_two_replicas(tmp_path: Path) -> None:
    with temporary_database("postgresql", tmp_path) as url:
        home = tmp_path / "home"
        upgrade(url)
        SecretBox.from_file(home / "secret.key")  # one key file for both, as replicas must share it
        a, b = Server(url, home), Server(url, home)
        a.start()  # first alone: it creates the default users
        b.start()
        try:
            with (
                httpx.Client(base_url=a.base, timeout=10) as to_a,
                httpx.Client(base_url=b.base, timeout=10) as to_b,
            ):
                data = ok(to_a.post("/api/v2/profiles/me/accessKeys", json={}, auth=ADMIN))
                # The Host every replica sees is the load balancer's: here, replica A's address.
                key = Signer(data["accessKeyId"], data["accessKeySecret"], f"127.0.0.1:{a.port}")
                body = b'{"name":"REPLICATED","permissions":["TASK:*:READ"]}'
                headers = key.headers("POST", "/api/v2/iam/roles", body=body, content_type="application/json")
                ok(to_a.post("/api/v2/iam/roles", content=body, headers=headers))
                err = error(to_b.post("/api/v2/iam/roles", content=body, headers=headers), 401, 3000)
                assert "replay" in err["message"], err
                # A GET signed for the same Host passes on both, until the key is disabled on one of them.
                for client in (to_a, to_b):
                    ok(client.get("/api/v2/ob/clusters", headers=key.headers("GET", "/api/v2/ob/clusters")))
                ok(to_a.post(f"/api/v2/profiles/me/accessKeys/{key.key_id}/disable", auth=ADMIN))
                err = error(
                    to_b.get("/api/v2/ob/clusters", headers=key.headers("GET", "/api/v2/ob/clusters")), 401
                )
                assert "disabled" in err["message"], err
        finally:
            stop_all([a, b])
        for log in home.glob("server-*.log"):
            assert key.secret not in log.read_text(errors="replace")
