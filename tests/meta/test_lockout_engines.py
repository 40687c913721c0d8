"""The lockout and the credential epoch on each metadb engine (SQLite, PostgreSQL, MariaDB): row locks,
the insert of a first failure, MySQL's case-insensitive collation (another case of a name is another,
unknown name), the unlock."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import make_client
from tests.api.ocp import create_user, error, ok

ME = "/api/v2/iam/current/user"


def test_lockout_on_each_engine(metadb_url: str, tmp_path: Path) -> None:
    admin = ("admin", "admin-test-password")
    with make_client(metadb_url, tmp_path / "home") as client:
        user = create_user(client, admin, "Pat", "pat-password-1")
        right = ("Pat", "pat-password-1")
        ok(client.get(ME, auth=right))
        for left in (4, 3, 2, 1):
            err = error(client.get(ME, auth=("Pat", "wrong")), 401, 3004)
            assert err["message"].endswith(f"You can retry {left} more times."), err
        # "PAT" is no user (on MySQL it finds Pat's row, but only the exact name logs in): its own count.
        err = error(client.get(ME, auth=("PAT", "pat-password-1")), 401, 3004)
        assert err["message"].endswith("You can retry 4 more times."), err
        error(client.get(ME, auth=("Pat", "wrong")), 401, 3003)
        error(client.get(ME, auth=right), 401, 3003)
        assert "lockedUntil" in ok(client.get(f"/api/v2/iam/users/{user['id']}", auth=admin))
        ok(client.post(f"/api/v2/iam/users/{user['id']}/unlock", auth=admin))
        assert ok(client.get(ME, auth=right))["username"] == "Pat"


def test_a_cached_credential_reads_user_and_roles_on_each_engine(metadb_url: str, tmp_path: Path) -> None:
    # A request with a cached credential reads the user and its roles in one statement (a LEFT JOIN): two
    # roles in name order, then none (the user still logs in), then a deleted user is refused at once.
    admin = ("admin", "admin-test-password")
    with make_client(metadb_url, tmp_path / "home") as client:
        user = create_user(client, admin, "Kim", "kim-password-1", ["TASK_MANAGER", "CLUSTER_VIEWER"])
        kim = ("Kim", "kim-password-1")
        for _ in range(2):  # the second is answered from the credential cache
            me = ok(client.get(ME, auth=kim))
            assert [r["name"] for r in me["roles"]] == ["CLUSTER_VIEWER", "TASK_MANAGER"], me
            assert "TASK:*:*" in me["permissions"] and "CLUSTER:*:READ" in me["permissions"]
        ok(client.put(f"/api/v2/iam/users/{user['id']}/roles", json={"roles": []}, auth=admin))
        me = ok(client.get(ME, auth=kim))
        assert me["username"] == "Kim" and me["roles"] == [] and me["permissions"] == []
        ok(client.delete(f"/api/v2/iam/users/{user['id']}", auth=admin))
        error(client.get(ME, auth=kim), 401, 3004)
