"""Differences between a described topology and what the observers report, without any server: a
distributed 4.x cluster's DBA_OB_SERVERS (as rows obcp.ob would read) against an obd file's servers."""

from __future__ import annotations

from obcp.ob.capability import ObCapability, ObKind
from obcp.ob.topology import ObServer, ObTopology, ObZone
from obcp.ob.topology_diff import DescribedServer, ReadBack, differences

DISTRIBUTED = ObCapability(ObKind.DISTRIBUTED, "5.7.25-OceanBase_CE-v4.2.1.2", (4, 2, 1, 2), "OceanBase",
                           (4, 2, 1, 2), "OceanBase_CE 4.2.1.2")  # fmt: skip
STANDALONE = ObCapability(ObKind.STANDALONE, "5.7.25-OceanBase seekdb-v1.4.0.0", (1, 4, 0, 0), "seekdb",
                          (4, 3, 5, 3), "OceanBase 4.3.5.3 seekdb")  # fmt: skip


def server(ip: str, zone: str, sql_port: int = 2881) -> ObServer:
    return ObServer(ip, 2882, sql_port, zone, "ACTIVE", 1, None, False)


CLUSTER = ObTopology(
    DISTRIBUTED,
    (ObZone("zone1", "ACTIVE"), ObZone("zone2", "ACTIVE")),
    (server("10.0.0.1", "zone1"), server("10.0.0.2", "zone2")),
)


def described(ip: str, zone: str, sql_port: int = 2881) -> DescribedServer:
    return DescribedServer(f"obs-{ip.rsplit('.', 1)[1]}", ip, sql_port, 2882, zone)


def test_a_file_that_matches_has_no_difference() -> None:
    files = [described("10.0.0.1", "zone1"), described("10.0.0.2", "zone2")]
    assert differences([ReadBack(files[0], CLUSTER), ReadBack(files[1], CLUSTER)]) == []


def test_every_kind_of_difference_is_named() -> None:
    files = [described("10.0.0.1", "zone2"), described("10.0.0.3", "zone3")]
    found = differences([ReadBack(files[0], CLUSTER), ReadBack(files[1], None, "10.0.0.3:2881: refused")])
    assert found == [
        "obs-3 (10.0.0.3:2881, zone zone3): no observer answers as root@sys: 10.0.0.3:2881: refused",
        "obs-1 (10.0.0.1:2882): the file puts it in zone zone2, the cluster in zone zone1",
        "obs-3 (10.0.0.3:2881, zone zone3) (RPC port 2882) is in the file but not in the cluster "
        "(DBA_OB_SERVERS as 10.0.0.1:2881 reports it)",
        "the cluster has 10.0.0.2:2882 (SQL port 2881, zone zone2), which the file does not list",
    ]


def test_a_wrong_sql_port_and_a_mix_of_kinds_are_named() -> None:
    files = [described("10.0.0.1", "zone1", 2991), described("10.0.0.2", "zone2")]
    alone = ObTopology(
        STANDALONE, (ObZone("zone1", "ACTIVE", implicit=True),), (server("10.0.0.2", "zone1"),)
    )
    found = differences([ReadBack(files[0], CLUSTER), ReadBack(files[1], alone)])
    assert "obs-1 (10.0.0.1:2882): the file gives SQL port 2991, the cluster 2881" in found
    assert "obs-2 (10.0.0.2:2881, zone zone2) answer as standalone observers, the others as one " \
        "distributed cluster" in found  # fmt: skip
