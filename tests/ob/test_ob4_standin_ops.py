"""The distributed (OceanBase 4.x) path of obcp.ob against `ob4_standin`: a SCRIPTED STAND-IN for a
multi-node 4.x cluster, not a real cluster (none can run here). The module's SELECTs run unchanged on
4.x-shaped tables; ALTER SYSTEM behaviour is modelled on OceanBase 4.x's STOP SERVER/ZONE precheck
(one stopped zone at a time, a majority of in-sync members left for every log stream)."""

from __future__ import annotations

import asyncio

import pytest

from obcp.ob import (
    ClusterOps,
    ObKind,
    ObOperationRefused,
    ObWaitTimeout,
    ServerAddr,
    detect_capability,
    read_tenants,
    read_topology,
    restart_proof,
    wait_serving,
)
from tests.ob.ob4_standin import Ob4StandIn


async def ops_for(cluster: Ob4StandIn, lines: list[str] | None = None) -> ClusterOps:
    log = lines.append if lines is not None else (lambda _: None)
    return await ClusterOps.detect(cluster.session(), log=log, poll_interval=0.01, log_interval=0.05)


async def test_capability_and_topology_of_a_4x_cluster() -> None:
    cluster = Ob4StandIn()
    session = cluster.session()
    cap = await detect_capability(session)
    assert cap.kind is ObKind.DISTRIBUTED and cap.distributed
    assert cap.parsed_version == (4, 2, 1, 2) and cap.product == "OceanBase"
    topo = await read_topology(session, cap)
    assert topo.zone_names == ("zone1", "zone2", "zone3")
    assert [(s.ip, s.rpc_port, s.sql_port, s.zone) for s in topo.servers] == [
        ("127.0.1.1", 2882, 2881, "zone1"),
        ("127.0.1.2", 2882, 2881, "zone2"),
        ("127.0.1.3", 2882, 2881, "zone3"),
    ]
    assert all(s.serving and s.start_service_time for s in topo.servers)
    assert [s.with_rootserver for s in topo.servers] == [True, False, False]
    tenants = await read_tenants(session, cap)
    assert [(t.tenant_id, t.name, t.tenant_type) for t in tenants] == [
        (1, "sys", "SYS"),
        (1001, "META$1002", "META"),
        (1002, "obcp_t1", "USER"),
    ]


async def test_health_gate_names_what_is_wrong() -> None:
    cluster = Ob4StandIn()
    ops = await ops_for(cluster)
    assert (await ops.health_gate()).healthy
    cluster.set_in_sync(cluster.servers[2], False)
    cluster.kill_server(cluster.servers[1])
    report = await ops.health_gate()
    assert not report.healthy
    text = report.describe()
    assert "server 127.0.1.2:2882 in zone2: status INACTIVE" in text
    assert "not serving (START_SERVICE_TIME NULL)" in text
    assert "tenant 1002 LS 1 on 127.0.1.3:2882" in text


async def test_two_zones_rolling_refused_with_reason_to_use_force() -> None:
    cluster = Ob4StandIn(zones=("zone1", "zone2"))
    ops = await ops_for(cluster)
    verdict = await ops.check_majority_after_stop(zone="zone1")
    assert not verdict.safe
    assert "1 of 2 paxos members would remain in sync (a majority needs 2)" in verdict.message
    assert "use FORCE mode" in verdict.message
    with pytest.raises(ObOperationRefused) as info:
        await ops.stop_zone("zone1")
    assert "ALTER SYSTEM STOP ZONE 'zone1' refused" in str(info.value) and "FORCE" in str(info.value)
    assert cluster.alter_statements() == []  # refused before anything was sent
    assert cluster.zone_status("zone1") == "ACTIVE"


async def test_three_zones_stop_and_start_zone_idempotent() -> None:
    cluster = Ob4StandIn()
    lines: list[str] = []
    ops = await ops_for(cluster, lines)
    assert (await ops.check_majority_after_stop(zone="zone1")).safe
    first = await ops.stop_zone("zone1")
    assert first.acted and "zone zone1 stopped" in first.message
    assert cluster.zone_status("zone1") == "INACTIVE" and cluster.leaders_in("zone1") == 0
    again = await ops.stop_zone("zone1")
    assert not again.acted and "already INACTIVE" in again.message
    assert cluster.alter_statements() == ["ALTER SYSTEM STOP ZONE 'zone1'"]
    sets = [sql for _, sql in cluster.statements if sql.startswith("SET SESSION ob_query_timeout")]
    assert sets == ["SET SESSION ob_query_timeout = 600000000"]

    # While zone1 is stopped, no other zone may be stopped.
    with pytest.raises(ObOperationRefused) as info:
        await ops.stop_zone("zone2")
    assert "zone1" in str(info.value) and "already stopped" in str(info.value)

    started = await ops.start_zone("zone1")
    assert started.acted and cluster.zone_status("zone1") == "ACTIVE"
    assert not (await ops.start_zone("zone1")).acted
    assert cluster.alter_statements() == ["ALTER SYSTEM STOP ZONE 'zone1'", "ALTER SYSTEM START ZONE 'zone1'"]


async def test_start_zone_race_already_active_is_success() -> None:
    """Someone else starts the zone between our status read and our statement: the server answers
    'zone status not match', the zone is ACTIVE, which is the effect wanted, so it is success."""
    cluster = Ob4StandIn()
    lines: list[str] = []
    ops = await ops_for(cluster, lines)
    await ops.stop_zone("zone2")
    cluster.after_reads("DBA_OB_ZONES", 1, lambda: cluster.set_zone_status("zone2", "ACTIVE"))
    result = await ops.start_zone("zone2")
    assert not result.acted and "already ACTIVE" in result.message
    assert cluster.alter_statements()[-1] == "ALTER SYSTEM START ZONE 'zone2'"
    assert any("zone status not match" in line and "treated as done" in line for line in lines)


async def test_stop_server_force_skips_only_log_sync() -> None:
    cluster = Ob4StandIn()
    ops = await ops_for(cluster)
    target, lagging = cluster.servers[1], cluster.servers[2]
    cluster.set_in_sync(lagging, False)
    with pytest.raises(ObOperationRefused) as info:
        await ops.stop_server(target)
    assert "tenant 1002 LS 1: 1 of 3 paxos members would remain in sync" in str(info.value)
    forced = await ops.stop_server(target, force=True)
    assert forced.acted
    assert cluster.alter_statements() == ["ALTER SYSTEM FORCE STOP SERVER '127.0.1.2:2882'"]
    assert not (await ops.stop_server(target, force=True)).acted  # idempotent
    started = await ops.start_server(target)
    assert started.acted and not (await ops.start_server(target)).acted
    assert cluster.alter_statements()[-1] == "ALTER SYSTEM START SERVER '127.0.1.2:2882'"
    assert len(cluster.alter_statements()) == 2


async def test_wait_logs_in_sync_polls_and_logs() -> None:
    cluster = Ob4StandIn()
    lines: list[str] = []
    ops = await ops_for(cluster, lines)
    lagging = cluster.servers[2]
    cluster.set_in_sync(lagging, False)
    cluster.after_reads("GV$OB_LOG_STAT", 4, lambda: cluster.catch_up(lagging))
    result = await ops.wait_logs_in_sync(timeout=5)
    assert "logs in sync on all servers" in result.message
    assert any("IN_SYNC=NO" in line and "127.0.1.3:2882" in line for line in lines)

    cluster.set_in_sync(lagging, False)
    with pytest.raises(ObWaitTimeout) as info:
        await ops.wait_logs_in_sync(servers=[lagging], timeout=0.2)
    assert "not reached within 0.2 s" in str(info.value) and "tenant 1002 LS 1 on 127.0.1.3:2882" in str(
        info.value
    )


async def test_wait_serving_after_restart_checks_active_sync_and_schema() -> None:
    cluster = Ob4StandIn()
    server = cluster.servers[1]
    before = await restart_proof(cluster.session(server))
    cluster.kill_server(server)
    lines: list[str] = []

    async def restart_later() -> int:
        await asyncio.sleep(0.1)
        stamp = cluster.start_server_process(server)
        cluster.after_reads("GV$OB_LOG_STAT", 3, lambda: cluster.catch_up(server))
        cluster.after_reads("GV$OB_SERVER_SCHEMA_INFO", 3, lambda: cluster.refresh_schema(server))
        return stamp

    restarting = asyncio.create_task(restart_later())
    ready = await wait_serving(
        lambda: cluster.open_session(server),
        "127.0.1.2:2881",
        timeout=5,
        previous_start_service_time=before,
        log=lines.append,
        poll_interval=0.01,
        log_interval=10,
    )
    new_stamp = await restarting
    assert ready.start_service_time == new_stamp != before
    assert ready.capability.distributed
    joined = "\n".join(lines)
    assert "connection refused" in joined
    assert "logs in sync on 127.0.1.2:2882" in joined
    assert "schema refreshed on 127.0.1.2:2882 for tenant(s): sys (id 1), obcp_t1 (id 1002)" in joined


async def test_wait_serving_same_start_service_time_is_not_a_restart() -> None:
    cluster = Ob4StandIn()
    before = await restart_proof(cluster.session())
    with pytest.raises(ObWaitTimeout) as info:
        await wait_serving(
            cluster.open_session, "127.0.1.1:2881", timeout=0.1, previous_start_service_time=before
        )
    assert f"START_SERVICE_TIME is still {before}" in str(info.value)


async def test_unknown_server_and_zone_are_refused() -> None:
    ops = await ops_for(Ob4StandIn())
    with pytest.raises(ObOperationRefused, match="does not exist in DBA_OB_SERVERS"):
        await ops.stop_server(ServerAddr("127.0.9.9", 2882))
    with pytest.raises(ObOperationRefused, match="does not exist in DBA_OB_ZONES"):
        await ops.start_zone("zone9")
    with pytest.raises(ObOperationRefused, match="invalid zone name"):
        await ops.stop_zone("z1'; DROP TABLE x; --")
