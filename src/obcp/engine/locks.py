"""Resource operation locks: one running (or failed, not yet resolved) task per cluster, zone or server.

A lock is taken in the transaction that creates the task and dropped in the one that makes it SUCCESSFUL
(including after a completed rollback). The hierarchy holds: a cluster lock excludes every zone and server
lock of that cluster, and a zone lock excludes the servers of that zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from obcp.errors import ErrorCode, ObcpError
from obcp.meta.task_tables import resource_lock, resource_lock_guard, task_instance


class LockKind(StrEnum):
    CLUSTER = "CLUSTER"
    ZONE = "ZONE"
    SERVER = "SERVER"


_BUSY = {
    LockKind.CLUSTER: ErrorCode.CLUSTER_BUSY,
    LockKind.ZONE: ErrorCode.ZONE_BUSY,
    LockKind.SERVER: ErrorCode.SERVER_BUSY,
}


@dataclass(frozen=True)
class ResourceLock:
    """`ResourceLock.cluster(5)`, `ResourceLock.zone(12, cluster_id=5)`, `ResourceLock.server(7, 5, 12)`."""

    kind: LockKind
    resource_id: int
    cluster_id: int
    zone_id: int | None = None

    @classmethod
    def cluster(cls, cluster_id: int) -> ResourceLock:
        return cls(LockKind.CLUSTER, cluster_id, cluster_id)

    @classmethod
    def zone(cls, zone_id: int, cluster_id: int) -> ResourceLock:
        return cls(LockKind.ZONE, zone_id, cluster_id, zone_id)

    @classmethod
    def server(cls, server_id: int, cluster_id: int, zone_id: int | None = None) -> ResourceLock:
        return cls(LockKind.SERVER, server_id, cluster_id, zone_id)


def ensure_guards(conn: Connection, cluster_ids: set[int]) -> None:
    """Create missing guard rows, each in its own savepoint so a concurrent creator is harmless."""
    for cid in sorted(cluster_ids):
        exists = conn.scalar(
            select(resource_lock_guard.c.cluster_id).where(resource_lock_guard.c.cluster_id == cid)
        )
        if exists is not None:
            continue
        try:
            with conn.begin_nested():
                conn.execute(insert(resource_lock_guard).values(cluster_id=cid, version=0))
        except IntegrityError:
            pass


def conflicts(lock: ResourceLock) -> ColumnElement[bool]:
    """Lock rows that exclude `lock`: the same resource, or one above or below it in the hierarchy."""
    rl = resource_lock.c
    same = and_(rl.resource_type == lock.kind.value, rl.resource_id == lock.resource_id)
    if lock.kind is LockKind.CLUSTER:
        return or_(same, rl.cluster_id == lock.cluster_id)
    cluster = and_(rl.resource_type == LockKind.CLUSTER.value, rl.resource_id == lock.cluster_id)
    if lock.kind is LockKind.ZONE:
        return or_(same, cluster, rl.zone_id == lock.resource_id)
    parts = [same, cluster]
    if lock.zone_id is not None:
        parts.append(and_(rl.resource_type == LockKind.ZONE.value, rl.resource_id == lock.zone_id))
    return or_(*parts)


def acquire(conn: Connection, locks: list[ResourceLock], task_id: int, now: int) -> None:
    """Take every lock for `task_id` or raise the OCP busy error naming the task that holds one."""
    for cid in sorted({lk.cluster_id for lk in locks}):
        # Row-locks the cluster's guard until commit: concurrent submissions on one cluster serialise here.
        conn.execute(
            update(resource_lock_guard)
            .where(resource_lock_guard.c.cluster_id == cid)
            .values(version=resource_lock_guard.c.version + 1)
        )
    for lock in locks:
        holder = (
            conn.execute(
                select(task_instance.c.id, task_instance.c.name)
                .select_from(resource_lock.join(task_instance, task_instance.c.id == resource_lock.c.task_id))
                .where(conflicts(lock), resource_lock.c.task_id != task_id)
                .limit(1)
            )
        ).first()
        if holder is not None:
            raise ObcpError(
                _BUSY[lock.kind], f"{holder.name} (task {holder.id})", target={"taskId": holder.id}
            )
    for lock in locks:
        conn.execute(
            insert(resource_lock).values(
                resource_type=lock.kind.value,
                resource_id=lock.resource_id,
                cluster_id=lock.cluster_id,
                zone_id=lock.zone_id if lock.kind is not LockKind.CLUSTER else None,
                task_id=task_id,
                created_at=now,
            )
        )
