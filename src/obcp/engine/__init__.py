"""obcp's durable DAG task engine: OCP's task model on the metadb, with leases, fencing and event dispatch.

Layers: `template` (DAG builders and the subtask class registry), `context` (OCP's Context), `store` (every
guarded state transition), `scheduler` (claims, runs, heartbeats, recovery), `locks` (resource operation
locks), `logs` (per-run logs in OCP's format), `hooks` (the
settle listener its host wires in), `queries` (what others may read of tasks) and `views` (OCP's
JSON shapes). Only the engine touches the task tables; everything else imports from this package, never
from its modules.
"""

from obcp.engine.context import Context
from obcp.engine.hooks import SettledTask, SettleListener
from obcp.engine.instruments import EngineMetrics
from obcp.engine.locks import ResourceLock
from obcp.engine.queries import (
    LockHolder,
    RunSpan,
    TaskFilter,
    TaskSignature,
    TaskSummary,
    list_tasks,
    load_list_items,
    load_task,
    lock_holder,
    newest_tasks,
    read_log,
    run_spans,
    running_task_counts,
    signature_of,
    subtask_contexts,
    task_page,
    task_signature,
    task_signatures,
    task_state,
)
from obcp.engine.scheduler import Engine
from obcp.engine.settings import EngineSettings
from obcp.engine.states import Operation, SubtaskState, TaskState
from obcp.engine.template import RunContext, Subtask, Template, TemplateBuilder, WaitNode, register
from obcp.engine.views import (
    ClusterLookup,
    KnownTask,
    ReloadedTask,
    TaskData,
    basic_json,
    load_tasks,
    no_clusters,
    reload_task,
    seed_json,
    subtask_json,
    task_row,
    wrapped_json,
)
from obcp.meta.paging import Pager

__all__ = [
    "ClusterLookup",
    "Context",
    "Engine",
    "EngineMetrics",
    "EngineSettings",
    "KnownTask",
    "LockHolder",
    "Operation",
    "Pager",
    "ReloadedTask",
    "ResourceLock",
    "RunContext",
    "RunSpan",
    "SettleListener",
    "SettledTask",
    "Subtask",
    "SubtaskState",
    "TaskData",
    "TaskFilter",
    "TaskSignature",
    "TaskState",
    "TaskSummary",
    "Template",
    "TemplateBuilder",
    "WaitNode",
    "basic_json",
    "list_tasks",
    "load_list_items",
    "load_task",
    "load_tasks",
    "lock_holder",
    "newest_tasks",
    "no_clusters",
    "read_log",
    "register",
    "reload_task",
    "run_spans",
    "running_task_counts",
    "seed_json",
    "signature_of",
    "subtask_contexts",
    "subtask_json",
    "task_page",
    "task_row",
    "task_signature",
    "task_signatures",
    "task_state",
    "wrapped_json",
]
