"""A subtask's input context: the task argument for a root, else the merge of its upstreams' outputs."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from obcp.engine.context import Context, merge
from obcp.engine.store.columns import D, S, T
from obcp.meta.task_tables import subtask_dependency, subtask_instance


def input_context(conn: Connection, sid: int, task_id: int, *, strict: bool = True) -> Context:
    """Upstream outputs carry the task argument on, as every output starts from its input; `strict`
    refuses outputs that contradict each other."""
    parents = conn.execute(_PARENT_OUTPUTS, {"b_child": sid}).scalars().all()
    if parents:
        return merge([Context.from_json(p) for p in parents], strict=strict)
    return Context.from_json(conn.scalar(_TASK_CONTEXT, {"b_task": task_id}))


_PARENT_OUTPUTS = (
    select(S.context)
    .select_from(subtask_dependency.join(subtask_instance, S.id == D.parent_id))
    .where(D.child_id == bindparam("b_child"))
    .order_by(S.id)
)
_TASK_CONTEXT = select(T.context).where(T.id == bindparam("b_task"))
