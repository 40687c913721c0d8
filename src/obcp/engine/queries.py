"""The engine's read API: what the rest of obcp may know of tasks, without touching the task tables.

Everything here reads through the caller's connection, so a caller can combine it with its own reads (or
its own transaction) on the metadb.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.engine.locks import ResourceLock, conflicts
from obcp.engine.states import TaskState
from obcp.engine.views import LIST_COLUMNS, VIEW_COLUMNS, ClusterLookup, TaskData, load_tasks
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.paging import Pager
from obcp.meta.task_tables import resource_lock, subtask_instance, subtask_log, task_instance

T = task_instance.c
S = subtask_instance.c
L = subtask_log.c

# OCP's sort fields of the task list.
SORTABLE: dict[str, ColumnElement[Any]] = {
    "id": T.id,
    "name": T.name,
    "status": T.state,
    "type": T.type,
    "createTime": T.created_at,
    "startTime": T.start_time,
    "finishTime": T.end_time,
}


@dataclass(frozen=True)
class TaskFilter:
    """OCP's task list filters; `None` does not filter. Id collections come from the caller's own lookups
    (e.g. the clusters whose name matches), and an empty one matches no task."""

    name: str | None = None  # a part of the task name
    states: Collection[str] | None = None
    type: str | None = None
    cluster_ids: Collection[int] | None = None
    tenant_ids: Collection[int] | None = None
    host_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.name:
            conds.append(T.name.contains(self.name, autoescape=True))
        if self.states is not None:
            conds.append(T.state.in_(sorted(self.states)))
        if self.type is not None:
            conds.append(T.type == self.type)
        if self.cluster_ids is not None:
            conds.append(T.cluster_id.in_(sorted(self.cluster_ids)))
        if self.tenant_ids is not None:
            conds.append(T.tenant_id.in_(sorted(self.tenant_ids)))
        if self.host_id is not None:
            conds.append(T.host_id == self.host_id)
        return conds


async def list_tasks(
    conn: AsyncConnection, filters: TaskFilter, pager: Pager, clusters: ClusterLookup
) -> tuple[int, list[TaskData]]:
    """One page of the tasks that match (newest first unless sorted), without edges, and the total."""
    total, ids = await task_page(conn, filters, pager)
    loaded = await load_list_items(conn, ids, clusters)
    return total, [loaded[i] for i in ids if i in loaded]


async def load_list_items(
    conn: AsyncConnection, ids: list[int], clusters: ClusterLookup
) -> dict[int, TaskData]:
    """These tasks as the task list shows them (no edges, the list's columns), by id."""
    return await load_tasks(conn, ids, clusters=clusters, edges=False, columns=LIST_COLUMNS)


async def task_page(conn: AsyncConnection, filters: TaskFilter, pager: Pager) -> tuple[int, list[int]]:
    """The ids of one page of the tasks that match (newest first unless sorted), and the total."""
    conds = filters.conditions()
    total = int(await conn.scalar(select(func.count()).select_from(task_instance).where(*conds)) or 0)
    ids = list((await conn.execute(pager.apply(select(T.id).where(*conds), SORTABLE, T.id.desc()))).scalars())
    return total, ids


async def load_task(conn: AsyncConnection, task_id: int, clusters: ClusterLookup) -> TaskData:
    """A task with its subtasks and edges; 404 (TASK_NOT_FOUND) when there is none."""
    data = (await load_tasks(conn, [task_id], clusters=clusters, columns=VIEW_COLUMNS)).get(task_id)
    if data is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    return data


async def subtask_contexts(conn: AsyncConnection, subtask_ids: list[int]) -> dict[int, str | None]:
    """The output contexts (JSON) of these subtasks, by id."""
    if not subtask_ids:
        return {}
    rows = await conn.execute(select(S.id, S.context).where(S.id.in_(subtask_ids)))
    return {r.id: r.context for r in rows}


async def task_state(conn: AsyncConnection, task_id: int) -> TaskState | None:
    state = await conn.scalar(select(T.state).where(T.id == task_id))
    return TaskState(state) if state is not None else None


async def read_log(conn: AsyncConnection, task_id: int, sid: int) -> str:
    """Every run's log of a subtask, oldest first."""
    if await conn.scalar(select(T.id).where(T.id == task_id)) is None:
        raise ObcpError(ErrorCode.TASK_NOT_FOUND, task_id)
    if await conn.scalar(select(S.id).where(S.id == sid, S.task_id == task_id)) is None:
        raise ObcpError(ErrorCode.SUBTASK_NOT_FOUND, sid, task_id)
    chunks = (await conn.execute(select(L.content).where(L.subtask_id == sid).order_by(L.id))).scalars().all()
    return "\n".join(chunks)


class TaskSignature(NamedTuple):
    """Changes whenever the task or any of its subtasks does: every transaction that changes what a view of
    its subtasks shows bumps the task's version (`store.task_state.lock_task`), so the task row says it."""

    version: int
    state: str
    updated_at: int


def signature_of(task: Any) -> TaskSignature:
    """The signature of a task row as `views.task_row` reads it."""
    return TaskSignature(task.version, task.state, task.updated_at)


def task_signature(conn: Connection, task_id: int) -> TaskSignature | None:
    """The task's signature (None: no such task); synchronous, for `Database.read_whole`."""
    row = conn.execute(_SIGNATURE, {"b_task": task_id}).first()
    return None if row is None else TaskSignature(*row)


async def task_signatures(conn: AsyncConnection, task_ids: list[int]) -> dict[int, TaskSignature]:
    """The signatures of these tasks (those that exist), in one statement."""
    if not task_ids:
        return {}
    rows = await conn.execute(select(T.id, T.version, T.state, T.updated_at).where(T.id.in_(task_ids)))
    return {task_id: TaskSignature(*signature) for task_id, *signature in rows}


# Every poller's GET and every event stream's look ask it: one row, by its key (it was an aggregate over the
# task's subtasks before their rows recorded the task's version: 236 rows read at each look of a 3 x 10
# restart).
_SIGNATURE = select(T.version, T.state, T.updated_at).where(T.id == bindparam("b_task"))


class LockHolder(NamedTuple):
    id: int
    name: str
    state: str


async def lock_holder(conn: AsyncConnection, lock: ResourceLock) -> LockHolder | None:
    """The task holding a lock that excludes `lock` (a cluster lock excludes its zones and servers)."""
    row = (
        await conn.execute(
            select(T.id, T.name, T.state)
            .select_from(resource_lock.join(task_instance, T.id == resource_lock.c.task_id))
            .where(conflicts(lock))
            .limit(1)
        )
    ).first()
    return LockHolder(row.id, row.name, row.state) if row is not None else None


class TaskSummary(NamedTuple):
    id: int
    name: str
    state: str
    operation: str
    cluster_id: int
    start_time: int | None
    end_time: int | None


async def newest_tasks(conn: AsyncConnection, cluster_ids: Collection[int]) -> dict[int, TaskSummary]:
    """The newest task of each of these clusters (by the tasks' `cluster_id`), keyed by cluster id."""
    if not cluster_ids:
        return {}
    newest = (
        select(func.max(T.id).label("task_id"))
        .where(T.cluster_id.in_(sorted(cluster_ids)))
        .group_by(T.cluster_id)
        .subquery()
    )
    rows = await conn.execute(
        select(T.id, T.name, T.state, T.operation, T.cluster_id, T.start_time, T.end_time).join(
            newest, newest.c.task_id == T.id
        )
    )
    return {int(r.cluster_id): TaskSummary(*r) for r in rows}


async def running_task_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many tasks are RUNNING, by template name (the metrics' running tasks)."""
    query = select(T.template, func.count()).where(T.state == TaskState.RUNNING.value).group_by(T.template)
    return {str(name): int(count) for name, count in (await conn.execute(query)).all()}


class RunSpan(NamedTuple):
    """One run of a subtask: when it began (its log header) and when its log was last written (its end,
    for a run that has finished: the result is written with the log)."""

    run_time: int
    operation: str
    started_ms: int
    last_written_ms: int


_HEADER_TIME = re.compile(r"^#+\{[A-Z_]+\}\{([^}]+)\}#+")


def _header_ms(content: str, fallback: int) -> int:
    m = _HEADER_TIME.match(content)
    if m is None:
        return fallback
    try:
        return int(datetime.fromisoformat(m.group(1)).timestamp() * 1000)
    except ValueError:
        return fallback


_RETRIED_RUNS = (
    select(L.subtask_id, L.run_time, L.operation, L.content, L.created_at, L.updated_at)
    .join(subtask_instance, S.id == L.subtask_id)
    .where(S.task_id == bindparam("b_task"), S.run_time > 1)
    .order_by(L.subtask_id, L.run_time, L.id)
)


async def run_spans(conn: AsyncConnection, task_id: int) -> dict[int, list[RunSpan]]:
    """The runs of the task's subtasks that ran more than once (retried), oldest first, by subtask id."""
    rows = (await conn.execute(_RETRIED_RUNS, {"b_task": task_id})).all()
    spans: dict[int, list[RunSpan]] = {}
    for r in rows:
        start = _header_ms(r.content[:120], r.created_at)
        spans.setdefault(r.subtask_id, []).append(RunSpan(r.run_time, r.operation, start, r.updated_at))
    return spans
