"""Clusters, zones and servers in the metadb (the owner of their tables), and their OCP JSON views.

Hosts have their own owner (`obcp.meta.hosts`); the queries here only read the host table: to show where
each observer runs and to check that a registered cluster's hosts exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database, inserted_id, now_ms
from obcp.meta.paging import Pager
from obcp.meta.parameter_tables import pending_names
from obcp.meta.reencrypt import Rotated, reencrypt_column
from obcp.meta.statuses import ClusterStatus, InnerStatus, ServerStatus, ZoneStatus
from obcp.meta.tables import compute_host, ob_cluster, ob_server, ob_zone, operation_availability
from obcp.secretbox import SecretBox
from obcp.timefmt import iso_ms

# OCP's status values, for the API's filters.
CLUSTER_STATUSES = tuple(ClusterStatus)
ZONE_STATUSES = tuple(ZoneStatus)
SERVER_STATUSES = tuple(ServerStatus)

# The sort fields of the cluster list.
CLUSTER_SORTS: dict[str, ColumnElement[Any]] = {
    "id": ob_cluster.c.id,
    "name": ob_cluster.c.name,
    "status": ob_cluster.c.status,
    "createTime": ob_cluster.c.created_at,
}


@dataclass(frozen=True)
class ServerRef:
    """An observer as the operations layer needs it: where it is and which agent controls it."""

    id: int
    cluster_id: int
    zone_id: int
    zone_name: str
    host_id: int
    address: str
    sql_port: int
    rpc_port: int
    observer_name: str
    agent_port: int
    agent_key_enc: str
    status: str


def server_json(row: Any, zone_name: str, address: str, hostname: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "clusterId": row.cluster_id,
        "hostId": row.host_id,
        "hostName": hostname,
        "ip": address,
        "port": row.rpc_port,
        "sqlPort": row.sql_port,
        "observerName": row.observer_name,
        "zoneName": zone_name,
        "status": row.status,
        "innerStatus": row.inner_status,
        "updateTime": iso_ms(row.updated_at),
    }


_CLUSTER = select(ob_cluster).where(ob_cluster.c.id == bindparam("b_cluster"))


async def get_cluster(conn: AsyncConnection, cluster_id: int) -> Any:
    row = (await conn.execute(_CLUSTER, {"b_cluster": cluster_id})).first()
    if row is None:
        raise ObcpError(ErrorCode.CLUSTER_NOT_FOUND, cluster_id)
    return row


async def list_clusters(
    conn: AsyncConnection, name: str | None, statuses: Collection[str], pager: Pager
) -> tuple[int, list[Any]]:
    """One page of the clusters whose name contains `name` (any case) with one of `statuses` (any if
    empty), and how many match in all."""
    where = []
    if name:
        where.append(func.lower(ob_cluster.c.name).contains(name.lower(), autoescape=True))
    if statuses:
        where.append(ob_cluster.c.status.in_(list(statuses)))
    total = (await conn.execute(select(func.count()).select_from(ob_cluster).where(*where))).scalar_one()
    query = pager.apply(select(ob_cluster).where(*where), CLUSTER_SORTS, ob_cluster.c.id)
    return total, list((await conn.execute(query)).all())


async def clusters_on_hosts(conn: AsyncConnection, host_ids: list[int]) -> dict[int, list[Any]]:
    """By host: the cluster (`id`, `name`, `ob_version`) of each observer on it, once per observer."""
    query = (
        select(ob_server.c.host_id, ob_cluster.c.id, ob_cluster.c.name, ob_cluster.c.ob_version)
        .join(ob_cluster, ob_cluster.c.id == ob_server.c.cluster_id)
        .where(ob_server.c.host_id.in_(host_ids))
        .order_by(ob_server.c.id)
    )
    result: dict[int, list[Any]] = {h: [] for h in host_ids}
    for row in (await conn.execute(query)).all():
        result[row.host_id].append(row)
    return result


async def server_on_host(conn: AsyncConnection, host_id: int) -> Any:
    """An observer (`id`, `cluster_name`) on the host, or None if no cluster uses it."""
    query = (
        select(ob_server.c.id, ob_cluster.c.name.label("cluster_name"))
        .join(ob_cluster, ob_cluster.c.id == ob_server.c.cluster_id)
        .where(ob_server.c.host_id == host_id)
    )
    return (await conn.execute(query)).first()


async def zones_of(conn: AsyncConnection, cluster_ids: list[int]) -> list[Any]:
    query = select(ob_zone).where(ob_zone.c.cluster_id.in_(cluster_ids)).order_by(ob_zone.c.id)
    return list((await conn.execute(query)).all())


async def servers_of(conn: AsyncConnection, cluster_ids: list[int], zone_id: int | None = None) -> list[Any]:
    query = (
        select(
            ob_server,
            ob_zone.c.name.label("zone_name"),
            compute_host.c.address,
            compute_host.c.name.label("host_name"),
        )
        .join(ob_zone, ob_zone.c.id == ob_server.c.zone_id)
        .join(compute_host, compute_host.c.id == ob_server.c.host_id)
        .where(ob_server.c.cluster_id.in_(cluster_ids))
        .order_by(ob_server.c.id)
    )
    if zone_id is not None:
        query = query.where(ob_server.c.zone_id == zone_id)
    return list((await conn.execute(query)).all())


# The newest task of each cluster asked for, by cluster id: the task engine answers it (`newest_tasks`), as
# only the engine reads its tables. Each has `id`, `name`, `state`, `operation`, `start_time`, `end_time`.
NewestTasks = Callable[[AsyncConnection, Collection[int]], Awaitable[Mapping[int, Any]]]


async def cluster_views(
    conn: AsyncConnection, clusters: list[Any], newest_tasks: NewestTasks
) -> list[dict[str, Any]]:
    """OCP's ObCluster objects with their zones, servers and last operation, for several clusters."""
    ids = [c.id for c in clusters]
    if not ids:
        return []
    zones = await zones_of(conn, ids)
    servers = await servers_of(conn, ids)
    last_ops = await last_operations(conn, await newest_tasks(conn, ids))
    pending = await pending_names(conn, ids)
    views = []
    for c in clusters:
        zone_views = []
        for z in (z for z in zones if z.cluster_id == c.id):
            zs = [s for s in servers if s.zone_id == z.id]
            zone_views.append(
                {
                    "clusterId": c.id,
                    "obClusterId": c.ob_cluster_id,
                    "name": z.name,
                    "idcName": z.idc_name,
                    "regionName": z.region_name,
                    "status": z.status,
                    "innerStatus": z.inner_status,
                    "serverCount": len(zs),
                    "hostCount": len({s.host_id for s in zs}),
                    "servers": [server_json(s, z.name, s.address, s.host_name) for s in zs],
                    "createTime": iso_ms(z.created_at),
                    "updateTime": iso_ms(z.updated_at),
                }
            )
        cs = [s for s in servers if s.cluster_id == c.id]
        views.append(
            {
                "id": c.id,
                "name": c.name,
                "obClusterId": c.ob_cluster_id,
                "obVersion": c.ob_version,
                "type": c.type,
                "status": c.status,
                "creator": c.creator,
                "serverCount": len(cs),
                "regionCount": len({z.region_name for z in zones if z.cluster_id == c.id and z.region_name})
                or 1,
                "zones": zone_views,
                "standbyClusters": [],
                "lastOperation": last_ops.get(c.id),
                # obcp's: static parameters changed since some server's last start (as last seen).
                "parametersPendingRestart": pending.get(c.id, []),
                "createTime": iso_ms(c.created_at),
                "updateTime": iso_ms(c.updated_at),
            }
        )
    return views


async def zone_by_name(conn: AsyncConnection, cluster_id: int, zone_name: str) -> Any:
    query = select(ob_zone).where(ob_zone.c.cluster_id == cluster_id, ob_zone.c.name == zone_name)
    row = (await conn.execute(query)).first()
    if row is None:
        raise ObcpError(ErrorCode.ZONE_NOT_FOUND, cluster_id, zone_name)
    return row


async def server_refs(
    conn: AsyncConnection, cluster_id: int, server_id: int | None = None
) -> list[ServerRef]:
    """Every observer of a cluster (or only `server_id` of it) with its agent's address and (encrypted) key,
    for the operations layer."""
    if server_id is None:
        rows = await conn.execute(_REFS_OF_CLUSTER, {"b_cluster": cluster_id})
    else:
        rows = await conn.execute(_REF_OF_SERVER, {"b_cluster": cluster_id, "b_server": server_id})
    return [
        ServerRef(
            id=r.id,
            cluster_id=r.cluster_id,
            zone_id=r.zone_id,
            zone_name=r.zone_name,
            host_id=r.host_id,
            address=r.address,
            sql_port=r.sql_port,
            rpc_port=r.rpc_port,
            observer_name=r.observer_name,
            agent_port=r.agent_port,
            agent_key_enc=r.agent_key_enc,
            status=r.status,
        )
        for r in rows.all()
    ]


# Built once: every per-server step of a restart asks for its server (building the statement cost more
# than running it).
_REFS_OF_CLUSTER = (
    select(
        ob_server,
        ob_zone.c.name.label("zone_name"),
        compute_host.c.address,
        compute_host.c.agent_port,
        compute_host.c.agent_key_enc,
    )
    .join(ob_zone, ob_zone.c.id == ob_server.c.zone_id)
    .join(compute_host, compute_host.c.id == ob_server.c.host_id)
    .where(ob_server.c.cluster_id == bindparam("b_cluster"))
    .order_by(ob_zone.c.id, ob_server.c.id)
)
_REF_OF_SERVER = _REFS_OF_CLUSTER.where(ob_server.c.id == bindparam("b_server"))


async def set_cluster_status(conn: AsyncConnection, cluster_id: int, status: str, **values: Any) -> None:
    await conn.execute(
        update(ob_cluster)
        .where(ob_cluster.c.id == cluster_id)
        .values(status=status, updated_at=now_ms(), **values)
    )


async def set_zone_status(
    conn: AsyncConnection, zone_id: int, status: str, inner_status: str | None = None
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now_ms()}
    if inner_status is not None:
        values["inner_status"] = inner_status
    await conn.execute(update(ob_zone).where(ob_zone.c.id == zone_id).values(**values))


async def set_server_status(
    conn: AsyncConnection, server_id: int, status: str, inner_status: str | None = None
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now_ms()}
    if inner_status is not None:
        values["inner_status"] = inner_status
    await conn.execute(update(ob_server).where(ob_server.c.id == server_id).values(**values))


async def last_operations(conn: AsyncConnection, newest: Mapping[int, Any]) -> dict[int, dict[str, Any]]:
    """OCP-style summaries of each cluster's newest task (`newest`, by cluster id), with the availability
    obcp measured while it ran (if any)."""
    measured: dict[int, Any] = {}
    if newest:
        task_ids = sorted(t.id for t in newest.values())
        rows = await conn.execute(
            select(operation_availability).where(operation_availability.c.task_id.in_(task_ids))
        )
        measured = {r.task_id: r for r in rows}
    result: dict[int, dict[str, Any]] = {}
    for cluster_id, t in newest.items():
        entry: dict[str, Any] = {
            "taskId": t.id,
            "name": t.name,
            "status": t.state,
            "operation": t.operation,
            "startTime": iso_ms(t.start_time),
            "finishTime": iso_ms(t.end_time),
        }
        m = measured.get(t.id)
        if m is not None:
            entry["availability"] = _availability_json(m)
        result[int(cluster_id)] = entry
    return result


def _availability_json(m: Any) -> dict[str, Any]:
    return {
        "longestOutageSeconds": round(m.longest_outage_ms / 1000, 3),
        "probeRounds": m.samples,
        "roundsWithoutAnswer": m.failed_samples,
        "probeIntervalMillis": m.interval_ms,
        "unobservedSeconds": round(m.unobserved_ms / 1000, 3),
        "finished": m.finished_at is not None,
    }


async def task_availability(conn: AsyncConnection, task_id: int) -> dict[str, Any] | None:
    """The availability obcp measured while the task ran (`lastOperation.availability`'s shape), if any."""
    row = (await conn.execute(_AVAILABILITY_OF_TASK, {"b_task": task_id})).first()
    return _availability_json(row) if row is not None else None


# Asked at each change of a task its event streams follow, and by every task view (its cluster).
_AVAILABILITY_OF_TASK = select(operation_availability).where(
    operation_availability.c.task_id == bindparam("b_task")
)
_CLUSTERS = select(ob_cluster).where(ob_cluster.c.id.in_(bindparam("b_ids", expanding=True)))


async def cluster_briefs(conn: AsyncConnection, cluster_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """OCP's short cluster object (as a task shows its cluster), by id."""
    rows = await conn.execute(_CLUSTERS, {"b_ids": sorted(cluster_ids)})
    return {r.id: {"id": r.id, "name": r.name, "obClusterId": r.ob_cluster_id, "type": r.type} for r in rows}


async def cluster_ids_named(conn: AsyncConnection, part: str) -> list[int]:
    """Ids of the clusters whose name contains `part`."""
    query = select(ob_cluster.c.id).where(ob_cluster.c.name.contains(part, autoescape=True))
    return list((await conn.execute(query)).scalars())


@dataclass(frozen=True)
class NewServer:
    host_id: int
    sql_port: int
    rpc_port: int
    observer_name: str


@dataclass(frozen=True)
class NewZone:
    name: str
    idc_name: str | None
    region_name: str | None
    servers: list[NewServer]


@dataclass(frozen=True)
class NewCluster:
    """A running cluster taken over: every zone and server as the caller saw them, RUNNING and ACTIVE."""

    name: str
    ob_cluster_id: int
    ob_version: str | None
    root_password_enc: str
    creator: str
    zones: list[NewZone]


async def refuse_taken_name(conn: AsyncConnection, name: str) -> None:
    if (await conn.execute(select(ob_cluster.c.id).where(ob_cluster.c.name == name))).first():
        raise ObcpError(ErrorCode.CLUSTER_EXISTS, name)


async def delete_empty_cluster(conn: AsyncConnection, cluster_id: int) -> None:
    """Removes a cluster row that never got zones (a takeover whose task could not be created)."""
    if (await conn.execute(select(ob_zone.c.id).where(ob_zone.c.cluster_id == cluster_id))).first():
        raise RuntimeError(f"cluster {cluster_id} has zones: not deleted")
    await conn.execute(delete(ob_cluster).where(ob_cluster.c.id == cluster_id))


async def register_cluster(conn: AsyncConnection, cluster: NewCluster) -> int:
    """Writes the cluster, its zones and servers (in the caller's transaction) after checking that the name
    is free, every host is registered and no server is already another cluster's; answers its id."""
    await refuse_taken_name(conn, cluster.name)
    await _check_servers(conn, [s for z in cluster.zones for s in z.servers])
    cluster_id = await insert_cluster(conn, cluster, ClusterStatus.RUNNING)
    await _insert_zones(conn, cluster_id, cluster.zones)
    return cluster_id


async def insert_cluster(conn: AsyncConnection, cluster: NewCluster, status: str) -> int:
    """The cluster's row alone (its zones are written later, as by a takeover task); answers its id."""
    now = now_ms()
    result = await conn.execute(
        ob_cluster.insert().values(
            name=cluster.name,
            ob_cluster_id=cluster.ob_cluster_id,
            ob_version=cluster.ob_version,
            type="PRIMARY",
            status=status,
            root_password_enc=cluster.root_password_enc,
            creator=cluster.creator,
            created_at=now,
            updated_at=now,
        )
    )
    return inserted_id(result)


async def register_topology(conn: AsyncConnection, cluster_id: int, zones: list[NewZone]) -> None:
    """Zones and servers of a cluster whose row exists and has none yet (checked as for a new one)."""
    await _check_servers(conn, [s for z in zones for s in z.servers])
    await _insert_zones(conn, cluster_id, zones)


async def _insert_zones(conn: AsyncConnection, cluster_id: int, zones: list[NewZone]) -> None:
    now = now_ms()
    for zone in zones:
        zone_id = inserted_id(
            await conn.execute(
                ob_zone.insert().values(
                    cluster_id=cluster_id,
                    name=zone.name,
                    idc_name=zone.idc_name,
                    region_name=zone.region_name,
                    status=ZoneStatus.RUNNING,
                    inner_status=InnerStatus.ACTIVE,
                    created_at=now,
                    updated_at=now,
                )
            )
        )
        rows = [
            {
                "cluster_id": cluster_id,
                "zone_id": zone_id,
                "host_id": s.host_id,
                "sql_port": s.sql_port,
                "rpc_port": s.rpc_port,
                "observer_name": s.observer_name,
                "status": ServerStatus.RUNNING,
                "inner_status": InnerStatus.ACTIVE,
                "created_at": now,
                "updated_at": now,
            }
            for s in zone.servers
        ]
        await conn.execute(ob_server.insert(), rows)


async def _check_servers(conn: AsyncConnection, servers: list[NewServer]) -> None:
    host_ids = sorted({s.host_id for s in servers})
    known = {
        r.id for r in await conn.execute(select(compute_host.c.id).where(compute_host.c.id.in_(host_ids)))
    }
    missing = [h for h in host_ids if h not in known]
    if missing:
        raise ObcpError(ErrorCode.HOST_NOT_FOUND, ", ".join(map(str, missing)))
    taken = await conn.execute(
        select(ob_server.c.host_id, ob_server.c.sql_port, ob_cluster.c.name)
        .join(ob_cluster, ob_cluster.c.id == ob_server.c.cluster_id)
        .where(ob_server.c.host_id.in_(host_ids))
    )
    wanted = {(s.host_id, s.sql_port) for s in servers}
    for t in taken:
        if (t.host_id, t.sql_port) in wanted:
            raise ObcpError(
                ErrorCode.ILLEGAL_ARGUMENT,
                f"servers (host {t.host_id} port {t.sql_port} already belongs to cluster {t.name})",
            )


async def reencrypt_root_passwords(db: Database, box: SecretBox) -> Rotated:
    """The clusters' root passwords, re-encrypted under the box's writing key (the secret key's rotation)."""
    return await reencrypt_column(db, ob_cluster, ob_cluster.c.id, ob_cluster.c.root_password_enc, box)
