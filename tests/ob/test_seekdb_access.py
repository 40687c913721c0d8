"""The access layer against a REAL seekdb observer (standalone OceanBase kernel), one per module."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from obcp.agent.ports import free_port
from obcp.ob import (
    ClusterOps,
    ObConnectError,
    ObEndpoint,
    ObKind,
    ObLoginError,
    ObSqlError,
    ObTimeoutError,
    ObTimeouts,
    ObWaitTimeout,
    ServerAddr,
    detect_capability,
    open_connection,
    probe,
    read_tenants,
    read_topology,
    restart_proof,
    wait_accessible,
)
from obcp.ob.readiness import ProbeFailure
from tests.ob.seekdb_server import SeekdbServer

pytestmark = [pytest.mark.seekdb, pytest.mark.slow]

PASSWORD = "Obcp_s3cret-T3st"
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def seekdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeekdbServer]:
    server = SeekdbServer(tmp_path_factory.mktemp("seekdb") / "base", free_port())
    try:
        server.start(first=True)
        server.set_root_password(PASSWORD)
        yield server
    finally:
        server.stop()


def endpoint(server: SeekdbServer) -> ObEndpoint:
    return ObEndpoint(HOST, server.port, PASSWORD)


async def test_capability_is_standalone(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        cap = await detect_capability(conn)
    assert cap.kind is ObKind.STANDALONE
    assert not cap.distributed
    assert cap.product == "seekdb"
    assert cap.version.startswith("5.7.25-OceanBase seekdb-v")
    assert cap.parsed_version[:2] == (1, 4)
    assert cap.kernel_version[0] == 4


async def test_topology_and_tenants(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        topo = await read_topology(conn)
        tenants = await read_tenants(conn, topo.capability)
    assert [z.name for z in topo.zones] == ["zone1"] and topo.zones[0].implicit
    (server,) = topo.servers
    assert server.sql_port == seekdb.port
    assert server.zone == "zone1" and server.serving and server.with_rootserver
    assert server.start_service_time and server.start_service_time > 1_600_000_000_000_000
    assert [(t.name, t.implicit) for t in tenants] == [("sys", True)]


async def test_probe_answers_and_is_fast(seekdb: SeekdbServer) -> None:
    results = [await probe(HOST, seekdb.port, PASSWORD) for _ in range(20)]
    assert all(r.ok for r in results), [r.describe() for r in results]
    latencies = sorted(r.seconds for r in results)
    median = latencies[len(latencies) // 2]
    print(f"\nprobe latency over 20 runs: median {median * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
    assert median < 0.5


async def test_wrong_password_names_host_port_and_hides_secrets(seekdb: SeekdbServer) -> None:
    wrong = "Wr0ng-pw-XYZ"
    with pytest.raises(ObLoginError) as info:
        async with open_connection(ObEndpoint(HOST, seekdb.port, wrong)):
            pass
    message = str(info.value)
    assert f"{HOST}:{seekdb.port}" in message
    assert info.value.errno == 1045 and "Access denied" in message
    assert wrong not in message and wrong not in repr(info.value)
    result = await probe(HOST, seekdb.port, wrong)
    assert not result.ok and result.failure is ProbeFailure.LOGIN_DENIED
    assert wrong not in result.describe()
    assert PASSWORD not in repr(endpoint(seekdb))


async def test_sql_error_names_statement_and_ob_message(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        with pytest.raises(Exception) as info:
            await conn.query("SELECT * FROM oceanbase.DBA_OB_SERVERS WHERE ZONE = %s", ("zone1",))
    message = str(info.value)
    assert f"{HOST}:{seekdb.port}" in message
    assert "SELECT * FROM oceanbase.DBA_OB_SERVERS WHERE ZONE = 'zone1'" in message
    assert "1146" in message and "doesn't exist" in message


async def test_read_timeout_closes_a_slow_statement(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb), ObTimeouts(connect=2, read=0.5)) as conn:
        t0 = time.monotonic()
        with pytest.raises(ObTimeoutError) as info:
            await conn.query("SELECT SLEEP(3) AS S")
        assert time.monotonic() - t0 < 2
        assert conn.closed
    assert "SELECT SLEEP(3) AS S" in str(info.value) and "read timeout" in str(info.value)


async def test_cluster_ops_are_explicit_no_ops(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        ops = await ClusterOps.detect(conn)
        results = [
            await ops.stop_zone("zone1"),
            await ops.start_zone("zone1"),
            await ops.stop_server(ServerAddr(HOST, 2882)),
            await ops.stop_server(ServerAddr(HOST, 2882), force=True),
            await ops.start_server(ServerAddr(HOST, 2882)),
            await ops.wait_logs_in_sync(timeout=1),
            await ops.wait_schema_refreshed(ServerAddr(HOST, 2882), timeout=1),
        ]
        gate = await ops.health_gate()
        majority = await ops.check_majority_after_stop(zone="zone1")
    assert all(not r.acted and not r.applicable for r in results)
    assert results[0].message == "standalone server: ALTER SYSTEM STOP ZONE not applicable"
    assert results[3].message == "standalone server: ALTER SYSTEM FORCE STOP SERVER not applicable"
    assert gate.healthy and not gate.applicable and "not applicable" in gate.describe()
    assert majority.safe and not majority.applicable


async def test_restart_proof_changes_after_kill_and_start(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        before = await restart_proof(conn)
    # The old process still serves: a wait for a *new* one must not be fooled.
    lines: list[str] = []
    with pytest.raises(ObWaitTimeout) as info:
        await wait_accessible(
            HOST, seekdb.port, PASSWORD, timeout=1.0, previous_start_service_time=before, log=lines.append
        )
    assert "same as before" in str(info.value) and lines

    async with open_connection(endpoint(seekdb)) as held:
        seekdb.kill()
        # A session that outlives its observer fails with a message naming the observer and the SQL.
        with pytest.raises(ObSqlError) as lost:
            await held.query("SELECT 1 AS OK")
        assert f"{HOST}:{seekdb.port}: SELECT 1 AS OK: error 20" in str(lost.value)
        assert held.closed
    t0 = time.monotonic()
    await asyncio.to_thread(seekdb.start)
    lines.clear()
    ready = await wait_accessible(
        HOST, seekdb.port, PASSWORD, timeout=60, previous_start_service_time=before, log=lines.append
    )
    elapsed = time.monotonic() - t0
    print(f"\nkill+start -> accessible (new START_SERVICE_TIME) in {elapsed:.2f} s")
    assert ready.start_service_time != before and ready.start_service_time > before
    async with open_connection(endpoint(seekdb)) as conn:
        assert await restart_proof(conn) == ready.start_service_time


async def test_wait_accessible_measures_time_from_exec(seekdb: SeekdbServer) -> None:
    """wait_accessible itself (not a helper) detects the restarted observer; timing for the docs."""
    async with open_connection(endpoint(seekdb)) as conn:
        before = await restart_proof(conn)
    seekdb.kill()
    lines: list[str] = []
    t0 = time.monotonic()
    starting = asyncio.create_task(asyncio.to_thread(seekdb.start))
    ready = await wait_accessible(
        HOST,
        seekdb.port,
        PASSWORD,
        timeout=60,
        previous_start_service_time=before,
        log=lines.append,
        poll_interval=0.1,
        log_interval=1.0,
    )
    elapsed = time.monotonic() - t0
    bare = await starting
    print(
        f"\nexec -> wait_accessible returned in {elapsed:.2f} s "
        f"(bare pymysql poll saw SELECT 1 after {bare:.2f} s); first log line: {lines[0]}"
    )
    assert ready.start_service_time != before
    assert any("refused" in line for line in lines)


async def test_wait_accessible_on_closed_port_times_out_clearly() -> None:
    port = free_port()
    lines: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(ObWaitTimeout) as info:
        await wait_accessible(HOST, port, PASSWORD, timeout=2.0, log=lines.append, log_interval=0.5)
    elapsed = time.monotonic() - t0
    message = str(info.value)
    assert 2.0 <= elapsed < 4.0
    assert f"{HOST}:{port}" in message and "not reached within 2 s" in message
    assert "connection refused" in message
    assert PASSWORD not in message and all(PASSWORD not in line for line in lines)
    assert len(lines) >= 2  # logged at least every log_interval while it waited


async def test_foreign_listener_without_handshake_does_not_hang() -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        t0 = time.monotonic()
        result = await probe(HOST, port, PASSWORD, timeouts=ObTimeouts(connect=0.5, read=1.0))
        elapsed = time.monotonic() - t0
        assert not result.ok and result.failure is ProbeFailure.NO_HANDSHAKE
        assert elapsed < 3.0
        assert f"{HOST}:{port}" in result.detail and "handshake" in result.detail
        with pytest.raises(ObConnectError):
            async with open_connection(ObEndpoint(HOST, port, PASSWORD), ObTimeouts(0.5, 0.5)):
                pass


def test_seekdb_base_dir_is_private(seekdb: SeekdbServer) -> None:
    assert Path(seekdb.base_dir, "store").is_dir()


async def test_distributed_sql_parses_on_the_real_kernel(seekdb: SeekdbServer) -> None:
    """seekdb runs the OceanBase 4.3.5 SQL engine without the distributed views: every distributed SELECT
    must get 'table doesn't exist' (1146, i.e. it parsed), never a syntax error (1064); the functions the
    distributed path relies on must exist."""
    from obcp.ob import cluster_checks, cluster_ops, topology

    statements = [
        (value, ("x",) * value.count("%s"))
        for module in (cluster_checks, cluster_ops, topology)
        for name, value in vars(module).items()
        if name.endswith("_SQL")
        and isinstance(value, str)
        and value.startswith("SELECT")
        and "V$OB_SERVER_STAT" not in value
    ]
    assert len(statements) >= 12
    async with open_connection(endpoint(seekdb)) as conn:
        for sql, args in statements:
            with pytest.raises(ObSqlError) as info:
                await conn.query(sql, args)
            assert info.value.errno == 1146, str(info.value)
        (row,) = await conn.query(
            "SELECT TIME_TO_USEC(NOW()) AS T, host_ip() AS SVR_IP, rpc_port() AS SVR_PORT"
        )
    assert row["T"] > 1_600_000_000_000_000 and row["SVR_IP"] and row["SVR_PORT"] == 2882


async def test_cancelled_statement_closes_its_session(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        task = asyncio.create_task(conn.query("SELECT SLEEP(3) AS S"))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - t0 < 0.5
        assert conn.closed
