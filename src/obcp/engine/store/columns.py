"""Short names for the task tables' columns and the state groups that the store's statements filter on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, literal_column, select

from obcp.engine.states import LEASED, SubtaskState
from obcp.meta.task_tables import subtask_dependency, subtask_instance, subtask_log, task_instance

T = task_instance.c
S = subtask_instance.c
D = subtask_dependency.c
L = subtask_log.c

# A task with a subtask in one of these is still RUNNING.
ACTIVE = (SubtaskState.READY.value, SubtaskState.RUNNING.value, SubtaskState.CANCELING.value)
LEASED_VALUES = tuple(s.value for s in LEASED)

# `task_version=TASK_VERSION_NOW` in every update of a subtask row that changes what a view shows (all but a
# lease's extension and the count of upstreams it waits for): the task's version as this transaction's
# `lock_task` left it, which no follower has read yet. (Stamping the counts too made a change of a running
# 3 x 10 restart read and encode about twice the rows again: bench/fleet.)
TASK_VERSION_NOW = select(T.version).where(T.id == S.task_id).scalar_subquery()


def one_of(column: ColumnElement[str], values: Iterable[str]) -> ColumnElement[bool]:
    """`column IN ('A', 'B')` with the constants written into the statement: an IN of bound values is
    rendered again at every execution (SQLAlchemy's expanding parameters), ~40 µs of CPU a statement on the
    engine's hottest statements."""
    quoted: list[ColumnElement[Any]] = []
    for value in values:
        if "'" in value or "\\" in value:
            raise ValueError(f"not a constant for one_of: {value!r}")
        quoted.append(literal_column(f"'{value}'"))
    return column.in_(quoted)
