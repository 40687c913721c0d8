"""Pure parts of obcp.ob: statement rendering, version parsing, the majority rule, import direction."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from obcp.ob.capability import parse_product
from obcp.ob.cluster_checks import majority_shortfalls, parse_member_list
from obcp.ob.connection import ObEndpoint
from obcp.ob.errors import ObLoginError, describe_sql
from obcp.ob.topology import ServerAddr, to_epoch_us

A, B, C = ServerAddr("127.0.1.1", 2882), ServerAddr("127.0.1.2", 2882), ServerAddr("127.0.1.3", 2882)


def test_describe_sql_inlines_args_and_hides_secrets() -> None:
    assert describe_sql("ALTER SYSTEM STOP ZONE %s", ("zone1",)) == "ALTER SYSTEM STOP ZONE 'zone1'"
    assert describe_sql("SELECT  1\n FROM t WHERE a = %s", (None,)) == "SELECT 1 FROM t WHERE a = NULL"
    assert describe_sql("ALTER USER root IDENTIFIED BY 'pw123'") == "ALTER USER root IDENTIFIED BY <redacted>"
    assert "pw123" not in describe_sql("SET PASSWORD FOR root = PASSWORD('pw123')")
    assert describe_sql("ALTER USER root IDENTIFIED BY %s", ("pw123",), secret=True).count("pw123") == 0
    assert describe_sql("SELECT %s", ("it's",)) == "SELECT 'it''s'"


def test_endpoint_repr_and_errors_never_show_the_password() -> None:
    ep = ObEndpoint("127.0.0.1", 2881, "S3cret_pw")
    assert "S3cret_pw" not in repr(ep) and "S3cret_pw" not in str(ep)
    err = ObLoginError(ep.address, "(login as root)", 1045, "Access denied for user 'root'")
    assert str(err) == "127.0.0.1:2881: (login as root): error 1045: Access denied for user 'root'"


def test_parse_product_versions() -> None:
    assert parse_product(
        "5.7.25-OceanBase seekdb-v1.4.0.0", "OceanBase 4.3.5.3 seekdb (r1.4.0.0) (Built 1-d0 Sep  8 2026)"
    ) == ("seekdb", (1, 4, 0, 0), (4, 3, 5, 3))
    assert parse_product("5.7.25-OceanBase-v4.2.1.2", "OceanBase 4.2.1.2 (r1) (Built Dec 5 2023)") == (
        "OceanBase",
        (4, 2, 1, 2),
        (4, 2, 1, 2),
    )
    assert parse_product("5.7.25-OceanBase_CE-v4.3.0.1", "OceanBase_CE 4.3.0.1 (r1)")[1] == (4, 3, 0, 1)


def test_to_epoch_us() -> None:
    assert to_epoch_us(None) is None and to_epoch_us(0) is None
    assert to_epoch_us(1795763142954372) == 1795763142954372
    assert to_epoch_us(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == 1767225600000000


def _row(
    addr: ServerAddr, role: str, in_sync: str = "YES", replicas: int = 3, members: str = ""
) -> dict[str, object]:
    member_list = members or "127.0.1.1:2882:1,127.0.1.2:2882:1,127.0.1.3:2882:1"
    return {
        "TENANT_ID": 1002,
        "LS_ID": 1001,
        "SVR_IP": addr.ip,
        "SVR_PORT": addr.rpc_port,
        "ROLE": role,
        "PAXOS_MEMBER_LIST": member_list,
        "PAXOS_REPLICA_NUM": replicas,
        "IN_SYNC": in_sync,
    }


def test_majority_rule() -> None:
    assert parse_member_list("127.0.1.1:2882:1,127.0.1.2:2882:1697000000") == {A, B}
    three = [_row(A, "LEADER"), _row(B, "FOLLOWER"), _row(C, "FOLLOWER")]
    assert majority_shortfalls(three, {A}) == []  # 2 of 3 remain
    assert len(majority_shortfalls(three, {A, B})) == 1
    lagging = [_row(A, "LEADER"), _row(B, "FOLLOWER"), _row(C, "FOLLOWER", "NO")]
    (short,) = majority_shortfalls(lagging, {B})
    assert short.survivors == 1 and "a majority needs 2" in short.reason
    assert majority_shortfalls(lagging, {B}, require_in_sync=False) == []  # FORCE STOP
    two = "127.0.1.1:2882:1,127.0.1.2:2882:1"
    pair = [_row(A, "LEADER", replicas=2, members=two), _row(B, "FOLLOWER", replicas=2, members=two)]
    assert majority_shortfalls(pair, {B})[0].reason.startswith("1 of 2 paxos members")
    assert majority_shortfalls(pair, {C}) == []  # not a member: unaffected
    no_leader = [_row(B, "FOLLOWER"), _row(C, "FOLLOWER")]
    assert majority_shortfalls(no_leader, {B})[0].reason == "has no leader now"


def test_ob_package_imports_no_upper_layer() -> None:
    forbidden = ("obcp.api", "obcp.engine", "obcp.operations")
    package = Path(__file__).resolve().parents[2] / "src" / "obcp" / "ob"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
