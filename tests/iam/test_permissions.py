"""OCP permission expressions: parsing and matching, without a server."""

from __future__ import annotations

import pytest

from obcp.iam.passwords import check_strength, hash_password, verify_password
from obcp.iam.permissions import DEFAULT_ROLES, allows, validate


@pytest.mark.parametrize(
    ("granted", "required", "expected"),
    [
        (["**"], "CLUSTER:5:UPDATE", True),
        (["**"], "CLUSTER:5:TENANT:3:BACKUP:1:DELETE", True),
        (["**"], "USER:1:DELETE", True),
        (["CLUSTER:*:READ"], "CLUSTER:5:READ", True),
        (["CLUSTER:*:READ"], "CLUSTER:*:READ", True),
        (["CLUSTER:*:READ"], "CLUSTER:5:UPDATE", False),
        (["CLUSTER:*:READ"], "HOST:5:READ", False),
        (["CLUSTER:*:READ"], "CLUSTER:5:TENANT:3:READ", False),  # * is one segment unless last
        (["CLUSTER:5:UPDATE"], "CLUSTER:5:UPDATE", True),
        (["CLUSTER:5:UPDATE"], "CLUSTER:6:UPDATE", False),
        (["CLUSTER:5:UPDATE"], "CLUSTER:*:UPDATE", False),  # one cluster is not all clusters
        (["CLUSTER:5:UPDATE"], "CLUSTER:5:READ", False),  # management does not imply read (OCP)
        (["CLUSTER:5:UPDATE"], "CLUSTER:5:DELETE", False),
        (["CLUSTER:5:UPDATE"], "CLUSTER:55:UPDATE", False),
        (["CLUSTER:5:UPDATE"], "CLUSTER:5", False),
        (["CLUSTER:5:UPDATE"], "CLUSTER:5:UPDATE:X", False),
        (["CLUSTER:*:*"], "CLUSTER:5:UPDATE", True),
        (["CLUSTER:*:*"], "CLUSTER:5:TENANT:3:READ", True),  # a last * covers the nested resources
        (["CLUSTER:*:*"], "HOST:5:UPDATE", False),
        (["CLUSTER:*:TENANT:*:READ"], "CLUSTER:1:TENANT:2:READ", True),
        (["CLUSTER:*:TENANT:*:READ"], "CLUSTER:1:TENANT:2:UPDATE", False),
        (["CLUSTER:*:TENANT:*:READ"], "CLUSTER:1:READ", False),
        (["CLUSTER:5:TENANT:*:*"], "CLUSTER:5:TENANT:9:DELETE", True),
        (["CLUSTER:5:TENANT:*:*"], "CLUSTER:6:TENANT:9:DELETE", False),
        (["TASK:*:*"], "TASK:17:RETRY", True),
        (["TASK:*:*"], "CLUSTER:1:READ", False),
        (["TASK:*:READ", "CLUSTER:5:UPDATE"], "CLUSTER:5:UPDATE", True),  # the union of the roles
        (["TASK:*:READ", "CLUSTER:5:UPDATE"], "TASK:3:READ", True),
        (["TASK:*:READ", "CLUSTER:5:UPDATE"], "TASK:3:RETRY", False),
        ([], "CLUSTER:1:READ", False),
        (["PROFILE:*:*"], "CLUSTER:1:READ", False),
    ],
)
def test_allows(granted: list[str], required: str, expected: bool) -> None:
    assert allows(granted, required) is expected


@pytest.mark.parametrize(
    "expression",
    ["**", "CLUSTER:*:READ", "CLUSTER:5:UPDATE", "CLUSTER:*:TENANT:*:READ", "TASK:*:*", "HOST:12:DELETE"],
)
def test_valid_expressions(expression: str) -> None:
    assert validate(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "*",
        "CLUSTER",
        "CLUSTER:",
        ":READ",
        "CLUSTER::READ",
        "**:READ",
        "CLUSTER:**:READ",
        "CLUSTER:*:READ\n",
        "CLUSTER:*:READ ",
        "CLUSTER :*:READ",
        "CLUSTER:1;DROP:READ",
        "CLUSTER:é:READ",
        "CLUSTER:*:RE AD",
    ],
)
def test_invalid_expressions(expression: str) -> None:
    assert not validate(expression)


def test_default_roles_follow_ocp() -> None:
    assert {"ADMIN", "CLUSTER_MANAGER", "CLUSTER_VIEWER", "TASK_MANAGER", "PROFILE"} <= set(DEFAULT_ROLES)
    perms = {name: perms for name, (_, perms) in DEFAULT_ROLES.items()}
    assert perms["ADMIN"] == ["**"]
    assert all(validate(p) for ps in perms.values() for p in ps)
    assert allows(perms["CLUSTER_MANAGER"], "CLUSTER:3:UPDATE")
    assert allows(perms["CLUSTER_VIEWER"], "CLUSTER:3:READ")
    assert not allows(perms["CLUSTER_VIEWER"], "CLUSTER:3:UPDATE")
    assert not allows(perms["CLUSTER_VIEWER"], "CLUSTER:*:CREATE")
    assert allows(perms["TASK_MANAGER"], "TASK:3:RETRY") and not allows(
        perms["TASK_MANAGER"], "CLUSTER:3:UPDATE"
    )
    assert not allows(perms["PROFILE"], "USER:1:READ")


def test_passwords_are_argon2id() -> None:
    h = hash_password("s3cret-password")
    assert h.startswith("$argon2id$") and "s3cret-password" not in h
    assert verify_password(h, "s3cret-password")
    assert not verify_password(h, "s3cret-passwore")
    assert not verify_password("not a hash", "s3cret-password")
    assert hash_password("s3cret-password") != h  # salted
    assert check_strength("short") and check_strength("x" * 129) and check_strength("long-enough") is None
