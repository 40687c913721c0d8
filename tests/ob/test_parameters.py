"""Parameter values (type and range checks) and the distributed path of obcp.ob.parameters and
obcp.ob.freeze against `ob4_standin`: a SCRIPTED STAND-IN for a multi-node 4.x cluster, not a real one."""

from __future__ import annotations

import pytest

from obcp.ob import ObSqlError, ObWaitTimeout, ServerAddr, detect_capability
from obcp.ob.freeze import checkpoints, log_ends, memtables, minor_freeze
from obcp.ob.parameter_values import BadValue, ValueRange, check_value, parse_range, same_value
from obcp.ob.parameters import read_parameters, set_parameter
from tests.ob.ob4_standin import Ob4StandIn


def test_ranges_as_seekdb_writes_them() -> None:
    assert parse_range("CAPACITY", "the size of routine execution stackRange: [256K, 20M]") == ValueRange(
        "256K", "20M"
    )
    assert parse_range("INT", "Range: [0,+∞) in integer") == ValueRange("0", None)
    assert parse_range("INT", "Range: (0,65536]") == ValueRange("0", "65536", min_inclusive=False)
    assert parse_range("CAPACITY", "Range: 0, [1G,).") == ValueRange("1G", None, also_allowed="0")
    assert parse_range("TIME", "Range: [1s, +∞]") == ValueRange("1s", None)
    # No range it can read, no bounds: never a made-up refusal.
    assert parse_range("INT", "Range: [0, not limited callback count") == ValueRange()
    assert parse_range("STRING", "Range: [1, +∞) or auto") == ValueRange()


@pytest.mark.parametrize(
    ("data_type", "info", "value", "sent"),
    [
        ("INT", "Range: [0, 128]", "2", "2"),
        ("INT", "Range: [0, 128]", "128", "128"),
        ("BOOL", "", "yes", "True"),
        ("BOOL", "", "OFF", "False"),
        ("CAPACITY", "Range: [256K, 20M]", "512K", "512K"),
        ("CAPACITY", "Range: 0, [1G,).", "0", "0"),
        ("CAPACITY", "Range: 0, [1G,).", "2G", "2G"),
        ("TIME", "Range: [0, 2h]", "30", "30"),
        ("TIME", "Range: [0, 2h]", "2h", "2h"),
        ("DOUBLE", "Range: [1,20]", "2.5", "2.5"),
        ("MOMENT", "Range: [00:00, 24:00)", "02:30", "02:30"),
        ("STRING", "", "WARN", "WARN"),
    ],
)
def test_good_values(data_type: str, info: str, value: str, sent: str) -> None:
    assert check_value(data_type, parse_range(data_type, info), value) == sent


@pytest.mark.parametrize(
    ("data_type", "info", "value", "says"),
    [
        ("INT", "Range: [0, 128]", "129", "[0, 128]"),
        ("INT", "Range: [0, 128]", "-1", "[0, 128]"),
        ("INT", "Range: [0, 128]", "5.0", "whole number"),
        ("INT", "Range: (0,65536]", "0", "(0, 65536]"),
        ("BOOL", "", "maybe", "true or false"),
        ("CAPACITY", "Range: [256K, 20M]", "100", "with a unit"),
        ("CAPACITY", "Range: [256K, 20M]", "1.5G", "with a unit"),
        ("CAPACITY", "Range: [256K, 20M]", "21M", "[256K, 20M]"),
        ("CAPACITY", "Range: 0, [1G,).", "512M", "0 or [1G, +∞)"),
        ("TIME", "Range: [0, 2h]", "3h", "[0, 2h]"),
        ("TIME", "Range: [0, 2h]", "soon", "unit"),
        ("MOMENT", "", "25:00", "HH:MM"),
        ("STRING", "", "a\nb", "one line"),
    ],
)
def test_bad_values_say_why(data_type: str, info: str, value: str, says: str) -> None:
    with pytest.raises(BadValue, match=None) as exc:
        check_value(data_type, parse_range(data_type, info), value)
    assert says in str(exc.value)


def test_same_value_across_spellings() -> None:
    assert same_value("BOOL", "yes", "True") and not same_value("BOOL", "0", "True")
    assert same_value("CAPACITY", "64mb", "64M") and same_value("CAPACITY", "1024K", "1M")
    assert same_value("TIME", "7200", "7200s") and same_value("TIME", "2h", "7200s")
    assert same_value("INT", "2", "2") and not same_value("INT", "2", "3")
    assert not same_value("STRING", "warn", "WARN")


async def test_standin_reads_gv_parameters_per_server() -> None:
    cluster = Ob4StandIn()
    reading = await read_parameters(cluster.session())
    assert reading.source == "GV$OB_PARAMETERS"
    # The TENANT-scope row is not a cluster parameter.
    assert set(reading.parameters) == {"net_thread_count", "cpu_count", "syslog_level", "server_create_time"}
    net = reading.parameters["net_thread_count"]
    assert net.need_restart and not net.readonly and net.data_type == "INT"
    assert net.value_range == ValueRange("0", "128")
    assert reading.parameters["server_create_time"].readonly
    rows = [(v.svr_ip, v.zone, v.value) for v in reading.values if v.name == "net_thread_count"]
    assert rows == [("127.0.1.1", "zone1", "0"), ("127.0.1.2", "zone2", "0"), ("127.0.1.3", "zone3", "0")]


async def test_standin_set_static_waits_for_restart_dynamic_does_not() -> None:
    cluster = Ob4StandIn()
    session = cluster.session()
    cap = await detect_capability(session)
    await set_parameter(session, cap, "cpu_count", "2")
    await set_parameter(session, cap, "net_thread_count", "4")
    first, second = cluster.servers[0], cluster.servers[1]
    assert cluster.parameter_value(first, "cpu_count") == "2"
    assert cluster.parameter_value(first, "net_thread_count") == "0"
    cluster.kill_server(first)
    cluster.start_server_process(first)
    assert cluster.parameter_value(first, "net_thread_count") == "4"
    assert cluster.parameter_value(second, "net_thread_count") == "0"
    await set_parameter(session, cap, "cpu_count", "3", server=str(second))
    assert cluster.parameter_value(second, "cpu_count") == "3"
    assert cluster.parameter_value(first, "cpu_count") == "2"
    assert ("127.0.1.1:2881", "ALTER SYSTEM SET cpu_count = '3' SERVER = '127.0.1.2:2882'") in (
        cluster.statements
    )
    with pytest.raises(ObSqlError) as exc:
        await set_parameter(session, cap, "no_such_parameter", "1")
    assert exc.value.errno == 5099
    with pytest.raises(ValueError, match="not a parameter name"):
        await set_parameter(session, cap, "cpu_count = 1; --", "1")


async def test_standin_minor_freeze_waits_for_the_dump() -> None:
    cluster = Ob4StandIn()
    cluster.freeze_reads = 3
    session = cluster.session()
    cap = await detect_capability(session)
    server = ServerAddr("127.0.1.2", 2882)
    lines: list[str] = []
    result = await minor_freeze(
        session, cap, server, poll_interval=0.01, log=lines.append, checkpoint_min_bytes=0
    )
    assert result.memtables == 1
    assert await memtables(session, cap, server) == {("1002", "1001", "200001", "2"): True}
    assert ("127.0.1.1:2881", "ALTER SYSTEM MINOR FREEZE TENANT = all SERVER = ('127.0.1.2:2882')") in (
        cluster.statements
    )
    assert any("1 of 1 memtable(s) of 127.0.1.2:2882 to be dumped" in line for line in lines)
    # Then the checkpoint of each of the server's log streams, from the views of that server only.
    assert result.checkpoint_seconds is not None, result.message
    assert "checkpoint past the freeze point" in result.message
    assert any("checkpoint of 127.0.1.2:2882" in line for line in lines), lines
    assert await checkpoints(session, cap, server) == await log_ends(session, cap, server)


async def test_standin_checkpoint_wait_is_bounded_and_never_fails_the_freeze() -> None:
    cluster = Ob4StandIn()
    cluster.freeze_reads = 1
    cluster.checkpoint_reads = 10_000
    session = cluster.session()
    cap = await detect_capability(session)
    result = await minor_freeze(
        session, cap, cluster.servers[0], poll_interval=0.01, checkpoint_timeout=0.05, checkpoint_min_bytes=0
    )
    assert result.memtables == 1 and result.checkpoint_seconds is None
    assert "did not pass the freeze point within 0.05 s" in result.message
    # Little frozen (the stand-in's memtables hold 4 KiB): the checkpoint is not waited for at all.
    result = await minor_freeze(session, cap, cluster.servers[1], poll_interval=0.01, checkpoint_timeout=0.05)
    assert result.checkpoint_seconds is None
    assert "too little was frozen to wait for the checkpoint" in result.message


async def test_standin_minor_freeze_bounded() -> None:
    cluster = Ob4StandIn()
    cluster.freeze_reads = 10_000
    session = cluster.session()
    cap = await detect_capability(session)
    with pytest.raises(ObWaitTimeout, match=r"minor freeze of 127\.0\.1\.1:2882"):
        await minor_freeze(session, cap, cluster.servers[0], timeout=0.05, poll_interval=0.01)
    cluster.fail_freeze = True
    with pytest.raises(ObSqlError, match=r"minor freeze failed"):
        await minor_freeze(session, cap, cluster.servers[0], timeout=0.05)
