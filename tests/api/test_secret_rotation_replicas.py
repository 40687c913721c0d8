"""Rotating the secret key under two running `obcp server` replicas (each its own OBCP_HOME and key files) on
one PostgreSQL metadb, as docs/security.md describes it: `obcp secrets new-key`, the file copied to the other
replica, `obcp secrets rotate`, `obcp secrets promote` on both. No replica restarts; every stored secret is
still usable after: the access keys verify on both replicas, the agent key signs a request a real agent
accepts, the cluster password and the SSH credential decrypt to what was stored, and so does a secret written
before key ids existed. Also: a lock made on one replica holds at once on the other, and `obcp user unlock`
lifts it (the replicas are running anyway)."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, update
from typer.testing import CliRunner

from obcp.agent.client import AgentSignatureAuth
from obcp.cli.main import app
from obcp.meta.access_key_tables import iam_access_key
from obcp.meta.db import sync_url
from obcp.meta.migrate import upgrade
from obcp.meta.tables import compute_host, ob_cluster
from obcp.meta.takeover_tables import profile_credential
from obcp.secretbox import SecretBox, key_id, new_key_path, written_by
from tests.agent.harness import running_agent
from tests.api.ocp import create_user, error, ok, register_host, takeover
from tests.dbs import temporary_database
from tests.engine.servers import ADMIN, Server, stop_all
from tests.support.ak_signer import Signer

pytestmark = pytest.mark.slow

COLUMNS = (
    (ob_cluster, ob_cluster.c.root_password_enc),
    (compute_host, compute_host.c.agent_key_enc),
    (iam_access_key, iam_access_key.c.secret_enc),
    (profile_credential, profile_credential.c.secret_enc),
)
ME = "/api/v2/iam/current/user"


def stored(url: str) -> dict[tuple[str, int], str]:
    """Every encrypted value of the metadb, by (column, row id)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {
                (f"{t.name}.{c.name}", row.id): row[1]
                for t, c in COLUMNS
                for row in conn.execute(select(t.c.id, c))
            }
    finally:
        engine.dispose()


def obcp(home: Path, url: str, *args: str) -> str:
    """`obcp secrets ...` as an operator runs it beside a replica (in this process: no interpreter start)."""
    done = CliRunner().invoke(app, ["secrets", *args], env={"OBCP_HOME": str(home), "OBCP_DB_URL": url})
    assert done.exit_code == 0, done.output
    return done.output


def signed_me(client: httpx.Client, key: Signer, host: str) -> str:
    headers = {**key.headers("GET", ME), "Host": host}
    return str(ok(client.get(ME, headers=headers))["username"])


def test_rotation_across_two_replicas(tmp_path: Path) -> None:
    with temporary_database("postgresql", tmp_path) as url:
        upgrade(url)
        home_a, home_b = tmp_path / "a", tmp_path / "b"
        SecretBox.from_file(home_a / "secret.key")
        home_b.mkdir()
        shutil.copy(home_a / "secret.key", home_b / "secret.key")
        old_id = key_id((home_a / "secret.key").read_bytes().strip())
        a, b = Server(url, home_a), Server(url, home_b)
        a.start()
        b.start()
        agent_key = secrets.token_hex(24)
        try:
            with (
                httpx.Client(base_url=a.base, timeout=10) as to_a,
                httpx.Client(base_url=b.base, timeout=10) as to_b,
            ):
                lb = f"127.0.0.1:{a.port}"  # the Host both replicas see behind a load balancer
                data = ok(to_a.post("/api/v2/profiles/me/accessKeys", json={}, auth=ADMIN))
                before_key = Signer(data["accessKeyId"], data["accessKeySecret"], lb)
                host = register_host(to_a, ADMIN, "127.0.0.21", agent_key=agent_key)
                takeover(to_b, ADMIN, "rot1", {"zone1": [host]}, root_password="Root-before-rotation")
                credential = {
                    "targetType": "HOST",
                    "name": "ssh-rot",
                    "sshCredentialProperty": {
                        "type": "PASSWORD",
                        "username": "admin",
                        "passphrase": "ssh-pw-1",
                    },
                }
                ok(to_b.post("/api/v2/profiles/me/credentials", json=credential, auth=ADMIN))
                # One secret as a release before key ids wrote it: a bare Fernet token of the same key.
                _write_legacy(url, home_a / "secret.key")
                plain = {
                    k: SecretBox.from_file(home_a / "secret.key").decrypt(v) for k, v in stored(url).items()
                }
                assert len(plain) == 4 and "ssh-pw-1" in str(plain.values())

                # 1. The new key, on every replica; they notice it without a restart.
                obcp(home_a, url, "new-key")
                shutil.copy(new_key_path(home_a / "secret.key"), new_key_path(home_b / "secret.key"))
                new_id = key_id(new_key_path(home_a / "secret.key").read_bytes().strip())
                data = ok(to_b.post("/api/v2/profiles/me/accessKeys", json={}, auth=ADMIN))
                during_key = Signer(data["accessKeyId"], data["accessKeySecret"], lb)
                assert {written_by(v) for v in stored(url).values()} == {old_id, None, new_id}
                for client in (to_a, to_b):  # both replicas read both keys during the rotation
                    assert signed_me(client, before_key, lb) == signed_me(client, during_key, lb) == "admin"

                # 2. Every stored secret re-encrypted under the new key, the replicas running.
                out = obcp(home_b, url, "rotate")
                assert "iam_access_key.secret_enc: 1 re-encrypted, 1 already" in out, out
                assert {written_by(v) for v in stored(url).values()} == {new_id}
                # 3. The new key made the only one, on each replica.
                for home in (home_a, home_b):
                    obcp(home, url, "promote")
                    assert not new_key_path(home / "secret.key").exists()
                    assert key_id((home / "secret.key").read_bytes().strip()) == new_id

                only_new = SecretBox.from_file(home_a / "secret.key")
                assert only_new.key_ids == (new_id,)
                after = {k: only_new.decrypt(v) for k, v in stored(url).items()}
                assert {k: after[k] for k in plain} == plain
                assert after[("iam_access_key.secret_enc", 2)] == during_key.secret
                for client in (to_a, to_b):
                    assert signed_me(client, before_key, lb) == signed_me(client, during_key, lb) == "admin"
                    assert ok(client.get(ME, auth=ADMIN))["username"] == "admin"
                status = obcp(home_a, url, "status")
                assert old_id not in status and f"compute_host.agent_key_enc: {new_id} 1" in status, status
                _lock_on_one_unlock_by_cli_on_the_other(to_a, to_b, a.base)
                rotated_agent_key = only_new.decrypt(stored(url)[("compute_host.agent_key_enc", host)])
                _agent_key_signs(tmp_path, agent_key, rotated_agent_key)
        finally:
            stop_all([a, b])


def _write_legacy(url: str, key_file: Path) -> None:
    fernet = Fernet(key_file.read_bytes().strip())
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(update(profile_credential).values(secret_enc=fernet.encrypt(b"ssh-pw-1").decode()))
    finally:
        engine.dispose()


def _agent_key_signs(tmp_path: Path, agent_key: str, decrypted: str) -> None:
    """The agent key as stored after the rotation signs a request that a real agent, holding the key it was
    given at registration, accepts (and the agent refuses another key)."""
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    with running_agent(agent_dir, "127.0.0.1", [], key=agent_key) as agent:
        url = f"http://127.0.0.1:{agent.port}/v1/observers"
        for key, status in ((decrypted, 200), ("not-the-agent-key", 401)):
            resp = httpx.get(url, auth=AgentSignatureAuth(key.encode()), timeout=10, trust_env=False)
            assert resp.status_code == status, (key == decrypted, resp.text)


def _lock_on_one_unlock_by_cli_on_the_other(to_a: httpx.Client, to_b: httpx.Client, url_a: str) -> None:
    """A lock made on one replica holds at once on the other (whose cache had the right password), and
    `obcp user unlock` lifts it on both."""
    user = create_user(to_a, ADMIN, "rita", "rita-password-1")
    right = ("rita", "rita-password-1")
    ok(to_b.get(ME, auth=right))  # cached on B
    for _ in range(5):
        to_a.get(ME, auth=("rita", "guess"))
    for client in (to_a, to_b):
        error(client.get(ME, auth=right), 401, 3003)
    env = {"OBCP_URL": url_a, "OBCP_USER": ADMIN[0], "OBCP_PASSWORD": ADMIN[1]}
    done = CliRunner().invoke(app, ["user", "unlock", str(user["id"])], env=env)
    assert done.exit_code == 0 and "rita" in done.output and "unlocked" in done.output, done.output
    for client in (to_b, to_a):
        assert ok(client.get(ME, auth=right))["username"] == "rita"
