"""What an operation call answers, in OCP's JSON shapes: the task it created, or the DAG a dry run
would create.

A cluster operation answers with the seed's shape (OCP's `POST …/clusters/{id}/restart`); zone and server
operations answer as OCP does for them, every subtask in full with the context as JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from obcp.engine import Context, load_task, seed_json, wrapped_json
from obcp.meta import inventory
from obcp.meta.db import Database, metadb_unreachable
from obcp.operations import keys
from obcp.operations.lifecycle import Kind, Scope
from obcp.operations.submit import Plan

# The task exists once submitted: its answer is worth waiting for, or the caller would be told 503 (and
# ask again, to be refused with 11020) for a change that was made (bench/fleet: 100 submissions at once).
ANSWER_ATTEMPTS = 5


async def task_answer(db: Database, scope: Scope, task_id: int) -> dict[str, Any]:
    for attempt in range(1, ANSWER_ATTEMPTS + 1):
        try:
            if scope is Scope.CLUSTER:
                return await task_view(db, task_id)
            return await full_task_view(db, task_id)
        except SQLAlchemyError as exc:
            if attempt == ANSWER_ATTEMPTS or not metadb_unreachable(exc):
                raise
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


async def task_view(db: Database, task_id: int) -> dict[str, Any]:
    """The seed's shape: what `POST …/clusters/{id}/restart` answers."""
    async with db.read() as conn:
        data = await load_task(conn, task_id, inventory.cluster_briefs)
    return seed_json(data)


async def full_task_view(db: Database, task_id: int) -> dict[str, Any]:
    """What OCP's zone and server operations answer: every subtask in full, the context as JSON."""
    async with db.read() as conn:
        data = await load_task(conn, task_id, inventory.cluster_briefs)
    view = wrapped_json(data)
    view.pop("cluster", None)
    view["clusterId"] = data.task.cluster_id
    view["context"] = Context.from_json(data.task.context).as_json_object()
    view["creator"] = data.task.creator
    for sub, row in zip(view["subtasks"], data.subtasks, strict=True):
        sub["className"] = row.class_name
    return view


def dry_run_view(plan: Plan) -> dict[str, Any]:
    """The seed's shape for the DAG that would run; ids are positions (1…n), nothing is created."""
    op = plan.operation
    specs = plan.template.instantiate(plan.context)
    downs: dict[int, list[int]] = {sp.index: [] for sp in specs}
    for sp in specs:
        for up in sp.upstreams:
            downs[up].append(sp.index + 1)
    return {
        "dryRun": True,
        "cluster": {
            "id": plan.cluster.id,
            "name": plan.cluster.name,
            "obClusterId": plan.cluster.ob_cluster_id,
        },
        "context": plan.context.java_string(),
        "name": plan.template.name,
        # Only a cluster restart has a mode to choose.
        "restartMode": op.mode if (op.scope, op.kind) == (Scope.CLUSTER, Kind.RESTART) else None,
        "zoneNames": plan.context.list_map.get(keys.ZONE_NAMES, []),
        "tasks": [
            {
                "description": sp.name,
                "downstreams": sorted(downs[sp.index]),
                "id": sp.index + 1,
                "name": sp.name,
                "operation": "EXECUTE",
                "parallelIdx": sp.parallel_idx,
                "status": "PENDING",
                "upstreams": sorted(u + 1 for u in sp.upstreams),
            }
            for sp in specs
        ],
    }
