"""obcp.ob.parameters and obcp.ob.freeze against a REAL seekdb observer: what V$OB_PARAMETERS reports,
ALTER SYSTEM SET of a dynamic and a static parameter (the static one in effect only after a restart), and
a minor freeze proven by V$OB_SSTABLES."""

from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest

from obcp.agent.ports import free_port
from obcp.ob import ObEndpoint, ObSqlError, ServerAddr, detect_capability, open_connection
from obcp.ob.freeze import memtables, minor_freeze
from obcp.ob.parameter_values import ValueRange
from obcp.ob.parameters import read_parameters, set_parameter
from tests.ob.seekdb_server import SeekdbServer

pytestmark = [pytest.mark.seekdb, pytest.mark.slow]


@pytest.fixture(scope="module")
def seekdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeekdbServer]:
    server = SeekdbServer(tmp_path_factory.mktemp("seekdb") / "base", free_port())
    try:
        server.start(first=True)
        yield server
    finally:
        server.stop()


def endpoint(server: SeekdbServer) -> ObEndpoint:
    return ObEndpoint("127.0.0.1", server.port, server.password)


async def values_of(server: SeekdbServer, name: str) -> list[str]:
    async with open_connection(endpoint(server)) as conn:
        reading = await read_parameters(conn)
    return [v.value for v in reading.values if v.name == name]


async def test_metadata_from_v_ob_parameters(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        reading = await read_parameters(conn)
    assert reading.source == "V$OB_PARAMETERS"
    assert len(reading.parameters) > 200
    static = sorted(p.name for p in reading.parameters.values() if p.need_restart)
    assert {"net_thread_count", "stack_size"} <= set(static)
    stack = reading.parameters["stack_size"]
    assert (stack.data_type, stack.value_range) == ("CAPACITY", ValueRange("256K", "20M"))
    assert not reading.parameters["cpu_count"].need_restart
    assert reading.parameters["server_create_time"].readonly
    assert "CPU's" in reading.parameters["cpu_count"].description
    (net,) = [v for v in reading.values if v.name == "net_thread_count"]
    assert (net.svr_ip, net.svr_port, net.zone) == ("127.0.0.1", 2882, None)


async def test_dynamic_now_static_after_restart(seekdb: SeekdbServer) -> None:
    async with open_connection(endpoint(seekdb)) as conn:
        cap = await detect_capability(conn)
        await set_parameter(conn, cap, "cpu_count", "2")
        await set_parameter(conn, cap, "net_thread_count", "2")
    assert await values_of(seekdb, "cpu_count") == ["2"]
    assert await values_of(seekdb, "net_thread_count") == ["0"]
    seekdb.kill()
    seekdb.start()
    assert await values_of(seekdb, "net_thread_count") == ["2"]


async def test_minor_freeze_dumps_every_frozen_memtable(seekdb: SeekdbServer) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=seekdb.port, user="root", autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("CREATE DATABASE IF NOT EXISTS freeze_test")
        cur.execute("CREATE TABLE IF NOT EXISTS freeze_test.t (id INT PRIMARY KEY, v VARCHAR(100))")
        cur.executemany("INSERT INTO freeze_test.t VALUES (%s, %s)", [(i, "x" * 100) for i in range(5000)])
    finally:
        conn.close()
    lines: list[str] = []
    async with open_connection(endpoint(seekdb)) as session:
        cap = await detect_capability(session)
        before = set(await memtables(session, cap, ServerAddr("127.0.0.1", 2882)))
        server = ServerAddr("127.0.0.1", 2882)
        result = await minor_freeze(
            session, cap, server, timeout=120, log=lines.append, checkpoint_min_bytes=0
        )
        after = await memtables(session, cap, ServerAddr("127.0.0.1", 2882))
    assert result.memtables > 0, lines
    assert not set(after) & before
    assert "minor freeze of 127.0.0.1:2882 finished" in result.message
    # The log stream's checkpoint passed the end of the log as it was before the freeze (seekdb: 5 s later).
    assert result.checkpoint_seconds is not None, result.message
    assert "checkpoint past the freeze point" in result.message


async def test_distributed_selects_parse_on_the_real_kernel(seekdb: SeekdbServer) -> None:
    """The 4.x views are absent from seekdb, so these must get 1146 (parsed), never 1064. (seekdb's parser
    refuses the distributed ALTER SYSTEM forms, `… SERVER = …`, with 1064: those are the stand-in's only.)"""
    from obcp.ob import freeze, parameters

    statements = [
        parameters.GV_PARAMETERS_SQL,
        freeze.MEMTABLES_ON_SERVER_SQL,
        freeze.LOG_END_ON_SERVER_SQL,
    ]
    async with open_connection(endpoint(seekdb)) as conn:
        for sql in statements:
            with pytest.raises(ObSqlError) as info:
                await conn.query(sql, ("127.0.0.1", 2882)[: sql.count("%s")])
            assert info.value.errno == 1146, str(info.value)
