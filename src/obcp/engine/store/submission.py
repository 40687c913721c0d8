"""Submission: a task created whole, its subtasks, edges and resource locks in the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from obcp.engine import locks as lockmod
from obcp.engine.context import Context
from obcp.engine.states import Operation, SubtaskState, TaskState
from obcp.engine.store.columns import S, T
from obcp.engine.template import SubtaskSpec, Template
from obcp.meta.db import inserted_id, now_ms
from obcp.meta.task_tables import subtask_dependency, subtask_instance, task_instance


@dataclass(frozen=True)
class Submission:
    template: Template
    context: Context
    creator: str
    creator_id: int | None
    executor: str
    locks: tuple[lockmod.ResourceLock, ...] = ()
    cluster_id: int | None = None
    tenant_id: int | None = None
    host_id: int | None = None
    trace_id: str | None = None
    name: str | None = None


def submit(conn: Connection, sub: Submission) -> int:
    """Task, every subtask and edge, and the locks, in the caller's transaction; roots start READY."""
    now = now_ms()
    ctx = sub.context.copy()
    # OCP adds the template's flag to the argument; a caller that already forbids rollback keeps it forbidden.
    prohibited = sub.template.prohibit_rollback or ctx.get("prohibit_rollback") == "true"
    ctx.put("prohibit_rollback", str(prohibited).lower())
    specs = sub.template.instantiate(ctx)
    if sub.locks:
        lockmod.ensure_guards(conn, {lk.cluster_id for lk in sub.locks})
    task_id = _insert_task(conn, sub, ctx, now)
    ctx.put("task_instance_id", task_id)
    conn.execute(update(task_instance).where(T.id == task_id).values(context=ctx.to_json()))
    if sub.locks:
        lockmod.acquire(conn, list(sub.locks), task_id, now)
    conn.execute(insert(subtask_instance), [_subtask_row(task_id, spec, now) for spec in specs])
    ids = {r.series_id: r.id for r in conn.execute(select(S.series_id, S.id).where(S.task_id == task_id))}
    edges = [
        {"parent_id": ids[up], "child_id": ids[spec.index], "task_id": task_id}
        for spec in specs
        for up in spec.upstreams
    ]
    if edges:
        conn.execute(insert(subtask_dependency), edges)
    return task_id


def _insert_task(conn: Connection, sub: Submission, ctx: Context, now: int) -> int:
    result = conn.execute(
        insert(task_instance).values(
            name=sub.name or sub.template.name,
            template=sub.template.name,
            type="MANUAL",
            state=TaskState.RUNNING.value,
            operation=Operation.EXECUTE.value,
            creator=sub.creator,
            creator_id=sub.creator_id,
            executor=sub.executor,
            cluster_id=sub.cluster_id,
            tenant_id=sub.tenant_id,
            host_id=sub.host_id,
            context=ctx.to_json(),
            prohibit_rollback=sub.template.prohibit_rollback,
            trace_id=sub.trace_id,
            version=0,
            created_at=now,
            start_time=now,
            updated_at=now,
        )
    )
    return inserted_id(result)


def _subtask_row(task_id: int, spec: SubtaskSpec, now: int) -> dict[str, Any]:
    cls = spec.cls
    return {
        "task_id": task_id,
        "series_id": spec.index,
        "name": spec.name,
        "class_name": cls.key,
        "state": (SubtaskState.READY if not spec.upstreams else SubtaskState.PENDING).value,
        "operation": Operation.EXECUTE.value,
        "parallel_idx": spec.parallel_idx,
        "run_time": 1,
        "waiting": len(spec.upstreams),
        "upstreams": len(spec.upstreams),
        "params": json.dumps(dict(spec.params), sort_keys=True) if spec.params else None,
        "timeout": cls.timeout,
        "retry_count": cls.retry_count,
        "can_retry": cls.can_retry,
        "can_rollback": cls.can_rollback,
        "can_skip": cls.can_skip,
        "can_cancel": cls.can_cancel,
        "continue_after_crash": cls.continue_after_crash,
        "prohibit_rollback": cls.prohibit_rollback,
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
