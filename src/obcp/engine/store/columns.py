"""Short names for the task tables' columns and the state groups that the store's statements filter on."""

from __future__ import annotations

from obcp.engine.states import LEASED, SubtaskState
from obcp.meta.task_tables import subtask_dependency, subtask_instance, subtask_log, task_instance

T = task_instance.c
S = subtask_instance.c
D = subtask_dependency.c
L = subtask_log.c

# A task with a subtask in one of these is still RUNNING.
ACTIVE = (SubtaskState.READY.value, SubtaskState.RUNNING.value, SubtaskState.CANCELING.value)
LEASED_VALUES = tuple(s.value for s in LEASED)
