"""obcp's durable DAG task engine: OCP's task model on the metadb, with leases, fencing and event dispatch.

Layers: `template` (DAG builders and the subtask class registry), `context` (OCP's Context), `store` (every
guarded state transition), `scheduler` (claims, runs, heartbeats, recovery), `locks` (resource operation
locks), `logs` (per-run logs in OCP's format) and `views` (OCP's JSON shapes).
"""

from obcp.engine.context import Context
from obcp.engine.locks import ResourceLock
from obcp.engine.scheduler import Engine
from obcp.engine.states import Operation, SubtaskState, TaskState
from obcp.engine.template import RunContext, Subtask, Template, TemplateBuilder, register

__all__ = [
    "Context",
    "Engine",
    "Operation",
    "ResourceLock",
    "RunContext",
    "Subtask",
    "SubtaskState",
    "TaskState",
    "Template",
    "TemplateBuilder",
    "register",
]
