"""OCP's JSON shapes of tasks: WrappedTaskInstance (a task with every subtask in full, Shape C),
BasicTaskInstance (a list item, Shape D), SubtaskInstance, and the seed's restart answer (Shape A) with the
Java-style context string.

The engine knows no clusters: the `cluster` object a shape shows comes from a lookup the caller passes to
`load_tasks`, keyed by the tasks' own `cluster_id`."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from obcp.engine.context import Context
from obcp.meta.task_tables import subtask_dependency, subtask_instance, task_instance
from obcp.timefmt import iso_ms

S = subtask_instance.c
D = subtask_dependency.c
T = task_instance.c

# What a view reads of each subtask. A subtask's `context` (its output, with the task's whole listMap) is
# most of its row, and only the console's event stream shows anything of it: a task GET and a list page
# leave it out (bench/fleet: with 3 x 10 restarts, a page of 20 read ~10 MB of contexts to show 5 fields).
ALL_COLUMNS: tuple[Any, ...] = tuple(subtask_instance.c)
VIEW_COLUMNS: tuple[Any, ...] = tuple(c for c in subtask_instance.c if c.name != "context")
LIST_COLUMNS: tuple[Any, ...] = (S.id, S.task_id, S.series_id, S.name, S.operation, S.state)

# OCP's cluster object (`id`, `name`, `obClusterId`, `type`) of each cluster asked for, by cluster id.
ClusterLookup = Callable[[AsyncConnection, Collection[int]], Awaitable[Mapping[int, dict[str, Any]]]]


async def no_clusters(conn: AsyncConnection, cluster_ids: Collection[int]) -> Mapping[int, dict[str, Any]]:
    """A lookup for tasks shown without their cluster."""
    return {}


Edges = dict[int, list[int]]


@dataclass
class TaskData:
    task: Any
    subtasks: list[Any]
    upstreams: Edges
    downstreams: Edges
    cluster: dict[str, Any] | None


async def load_tasks(
    conn: AsyncConnection,
    task_ids: list[int],
    *,
    clusters: ClusterLookup,
    edges: bool = True,
    columns: tuple[Any, ...] = ALL_COLUMNS,
) -> dict[int, TaskData]:
    """Tasks with their subtasks (`columns` of them; and, with `edges`, their up- and downstreams), by id."""
    if not task_ids:
        return {}
    tasks = (await conn.execute(select(task_instance).where(T.id.in_(task_ids)))).all()
    subs = (await conn.execute(select(*columns).where(S.task_id.in_(task_ids)).order_by(S.series_id))).all()
    ups, downs = await load_edges(conn, task_ids) if edges else ({}, {})
    cluster_ids = {t.cluster_id for t in tasks if t.cluster_id is not None}
    known = await clusters(conn, cluster_ids) if cluster_ids else {}
    by_task: dict[int, list[Any]] = defaultdict(list)
    for s in subs:
        by_task[s.task_id].append(s)
    return {t.id: TaskData(t, by_task[t.id], ups, downs, _cluster(known, t.cluster_id)) for t in tasks}


SubtaskKey = tuple[int, int]  # a subtask row's (version, updated_at): every write moves it


@dataclass
class KnownTask:
    """What a caller kept of a task it read before: its edges (they never change), its subtask rows
    (`VIEW_COLUMNS`) and their keys, by subtask id (`keys` in the task's order), and the task's version
    when they were read."""

    edges: tuple[Edges, Edges]
    rows: dict[int, Any]
    keys: dict[int, SubtaskKey]
    version: int
    cluster: dict[str, Any] | None = None
    cluster_read_at: float = 0.0  # time.monotonic()


@dataclass
class ReloadedTask:
    """A task read again: its data, what to keep for the next reload, and which subtasks were read again
    (None: all, it was the first read)."""

    data: TaskData
    known: KnownTask
    changed: frozenset[int] | None


# A followed task is read again at each of its changes (every poller's GET, every event stream): these are
# built once, with bound parameters, rather than at every read.
_TASK_ROW = select(task_instance).where(T.id == bindparam("b_task"))
_CHANGED_ROWS = (
    select(*VIEW_COLUMNS)
    .where(S.task_id == bindparam("b_task"), S.task_version > bindparam("b_version"))
    .order_by(S.series_id)
)


def task_row(conn: Connection, task_id: int) -> Any:
    """The task's row (None: no such task), for a caller that looks at it before `reload_task`
    (synchronous, for `Database.read_whole`)."""
    return conn.execute(_TASK_ROW, {"b_task": task_id}).first()


async def reload_task(
    conn: AsyncConnection,
    task_id: int,
    clusters: ClusterLookup,
    known: KnownTask | None,
    *,
    task: Any = None,
    cluster_max_age: float = 0.0,
) -> ReloadedTask | None:
    """The task as `load_tasks` reads it (`VIEW_COLUMNS`, with edges), reading again only the subtask rows
    changed since `known`: those whose `task_version` is above the task's version it was read at. None
    when there is no such task. `task`: its row, when the caller has just read it on `conn`; the cluster
    `known` has is kept if it was read less than `cluster_max_age` seconds ago.

    A followed task is read again at each of its changes, a few of its hundreds of subtasks at a time
    (bench/fleet: reading the keys of all 236 subtasks of a 3 x 10 restart at each change was most of a
    poller's GET). The task row is read first: a change committed after it is read again next time, and
    none committed before it is missed, since a task's changes commit in the order of its version (each
    holds the task row's lock). A task's subtasks are written with it and deleted only with it."""
    if known is None:
        return await _load_whole(conn, task_id, clusters)
    if task is None:
        task = await conn.run_sync(task_row, task_id)
        if task is None:
            return None
    found = (await conn.execute(_CHANGED_ROWS, {"b_task": task_id, "b_version": known.version})).all()
    rows, keys = known.rows, known.keys
    if found:
        if any(row.id not in keys for row in found):  # not a subtask it had: read the task whole
            return await _load_whole(conn, task_id, clusters)
        rows, keys = dict(rows), dict(keys)
        for row in found:
            rows[row.id] = row
            keys[row.id] = (row.version, row.updated_at)
    cluster, read_at = known.cluster, known.cluster_read_at
    now = time.monotonic()
    if task.cluster_id is None:
        cluster = None
    elif cluster is None or cluster.get("id") != task.cluster_id or now - read_at >= cluster_max_age:
        cluster, read_at = _cluster(await clusters(conn, [task.cluster_id]), task.cluster_id), now
    shown = dict(cluster) if cluster is not None else None
    data = TaskData(task, [rows[sid] for sid in keys], known.edges[0], known.edges[1], shown)
    changed = frozenset(row.id for row in found)
    kept = KnownTask(known.edges, rows, keys, task.version, cluster, read_at)
    return ReloadedTask(data, kept, changed)


async def _load_whole(conn: AsyncConnection, task_id: int, clusters: ClusterLookup) -> ReloadedTask | None:
    data = (await load_tasks(conn, [task_id], clusters=clusters, columns=VIEW_COLUMNS)).get(task_id)
    if data is None:
        return None
    rows = {s.id: s for s in data.subtasks}
    keys = {sid: (s.version, s.updated_at) for sid, s in rows.items()}
    edges = (data.upstreams, data.downstreams)
    known = KnownTask(edges, rows, keys, data.task.version, data.cluster, time.monotonic())
    return ReloadedTask(data, known, None)


async def load_edges(conn: AsyncConnection, task_ids: Collection[int]) -> tuple[Edges, Edges]:
    """The tasks' upstreams and downstreams of every subtask, by subtask id. A task's edges are written
    with it and never change."""
    ups: Edges = defaultdict(list)
    downs: Edges = defaultdict(list)
    for e in (await conn.execute(select(D.parent_id, D.child_id).where(D.task_id.in_(task_ids)))).all():
        ups[e.child_id].append(e.parent_id)
        downs[e.parent_id].append(e.child_id)
    return ups, downs


def creator_json(task: Any) -> dict[str, Any]:
    return {"id": task.creator_id, "name": task.creator}


def _cluster(known: Mapping[int, dict[str, Any]], cluster_id: int | None) -> dict[str, Any] | None:
    cluster = known.get(cluster_id) if cluster_id is not None else None
    return dict(cluster) if cluster is not None else None


def subtask_json(s: Any, data: TaskData) -> dict[str, Any]:
    """SubtaskInstance as in WrappedTaskInstance and the subtask retry response."""
    return {
        "createTime": iso_ms(s.created_at),
        "description": s.name,
        "downstreams": sorted(data.downstreams.get(s.id, [])),
        "executor": s.executor,
        "finishTime": iso_ms(s.end_time),
        "id": s.id,
        "name": s.name,
        "nodeType": "JAVA_TASK",
        "operation": s.operation,
        "parallelIdx": s.parallel_idx,
        "prohibitRollback": bool(s.prohibit_rollback),
        "runTime": s.run_time,
        "seriesId": s.series_id,
        "startTime": iso_ms(s.start_time),
        "status": s.state,
        "timeout": s.timeout,
        "upstreams": sorted(data.upstreams.get(s.id, [])),
    }


def task_prohibits_rollback(data: TaskData) -> bool:
    if data.task.prohibit_rollback or Context.from_json(data.task.context).get("prohibit_rollback") == "true":
        return True
    return any(s.prohibit_rollback and s.state not in ("PENDING", "READY") for s in data.subtasks)


def wrapped_json(data: TaskData, *, subtasks: bool = True) -> dict[str, Any]:
    """Shape C: `GET /api/v2/tasks/instances/{id}` and the retry/rollback responses; without `subtasks`,
    its `subtasks` list is left empty for a caller that renders them one by one."""
    t = data.task
    return {
        "cluster": data.cluster,
        "createTime": iso_ms(t.created_at),
        "creator": creator_json(t),
        "executor": t.executor,
        "finishTime": iso_ms(t.end_time),
        "id": t.id,
        "name": t.name,
        "operation": t.operation,
        "prohibitRollback": task_prohibits_rollback(data),
        "startTime": iso_ms(t.start_time),
        "status": t.state,
        "subtasks": [subtask_json(s, data) for s in data.subtasks] if subtasks else [],
        "taskDefinitionId": -1,
        "type": t.type,
    }


def basic_json(data: TaskData, subtasks: bool = True) -> dict[str, Any]:
    """Shape D: an item of `GET /api/v2/tasks/instances` (without `subtasks`, their list left empty for a
    caller that encodes them itself)."""
    t = data.task
    return {
        "cluster": data.cluster,
        "creator": creator_json(t),
        "finishTime": iso_ms(t.end_time),
        "id": t.id,
        "name": t.name,
        "startTime": iso_ms(t.start_time),
        "status": t.state,
        "subtasks": [basic_subtask_json(s) for s in data.subtasks] if subtasks else [],
    }


def basic_subtask_json(s: Any) -> dict[str, Any]:
    """A subtask in a BasicTaskInstance."""
    return {"description": s.name, "id": s.id, "name": s.name, "operation": s.operation, "status": s.state}


def seed_json(data: TaskData) -> dict[str, Any]:
    """Shape A (the seed's `/restart` response): `tasks[]`, cluster, creator and the Java-style context."""
    t = data.task
    cluster = dict(data.cluster) if data.cluster is not None else None
    if cluster is not None:
        cluster.pop("type", None)
    return {
        "cluster": cluster,
        "context": Context.from_json(t.context).java_string(),
        "creator": creator_json(t),
        "id": t.id,
        "name": t.name,
        "startTime": iso_ms(t.start_time),
        "status": t.state,
        "tasks": [
            {
                "description": s.name,
                "downstreams": sorted(data.downstreams.get(s.id, [])),
                "id": s.id,
                "name": s.name,
                "operation": s.operation,
                "status": s.state,
                "upstreams": sorted(data.upstreams.get(s.id, [])),
            }
            for s in data.subtasks
        ],
    }
