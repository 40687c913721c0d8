"""The task engine's tables: tasks, their subtasks and edges, per-run logs and resource operation locks.

Only the engine reads or writes them: every state column is written only by guarded updates (in
`obcp.engine.store`), everything else reads through `obcp.engine`'s queries. A subtask's `version` is bumped
on every transition and doubles as the fencing token of the run that holds the lease; the task's `version`
is bumped by every transaction that changes its subtasks, and the rows it changes record it (`task_version`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from obcp.meta.base import Id, LongText, metadata

task_instance = Table(
    "task_instance",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("template", String(128), nullable=False),
    Column("type", String(16), nullable=False, default="MANUAL"),
    Column("state", String(16), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("creator", String(64), nullable=False),
    Column("creator_id", BigInteger, nullable=True),
    Column("executor", String(128), nullable=True),
    Column("cluster_id", BigInteger, nullable=True),
    Column("tenant_id", BigInteger, nullable=True),
    Column("host_id", BigInteger, nullable=True),
    # The task argument: OCP's Context as JSON {parallelIdx, stringMap, listMap}.
    Column("context", LongText, nullable=False),
    Column("prohibit_rollback", Boolean, nullable=False, default=False),
    Column("trace_id", String(64), nullable=True),
    # Bumped by every transaction that changes the task's subtasks, so they serialise on this row.
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_task_instance_state", "state"),
    Index("ix_task_instance_cluster_id", "cluster_id"),
)

subtask_instance = Table(
    "subtask_instance",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task_id", Id, ForeignKey("task_instance.id", ondelete="CASCADE"), nullable=False),
    Column("series_id", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    # The registered subtask class (obcp.engine.template.registry) that any replica runs it with.
    Column("class_name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("parallel_idx", Integer, nullable=False, default=-1),
    Column("run_time", Integer, nullable=False, default=1),
    # Upstreams not yet SUCCESSFUL: a PENDING subtask with none left is promoted to READY.
    Column("waiting", Integer, nullable=False, default=0),
    # How many upstreams it has: with exactly one, its input is that upstream's output as it stands.
    Column("upstreams", Integer, nullable=False, default=0),
    Column("timeout", Integer, nullable=False),
    Column("retry_count", Integer, nullable=False, default=0),
    Column("can_retry", Boolean, nullable=False, default=True),
    Column("can_rollback", Boolean, nullable=False, default=True),
    Column("can_skip", Boolean, nullable=False, default=True),
    Column("can_cancel", Boolean, nullable=False, default=True),
    Column("continue_after_crash", Boolean, nullable=False, default=False),
    Column("prohibit_rollback", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=0),
    # The task's `version` when this row last changed in what a view shows (not `waiting`, not the lease's
    # expiry): a follower that has read the task at version v reads again only rows with `task_version > v`.
    Column("task_version", Integer, nullable=False, default=0, server_default="0"),
    Column("owner", String(128), nullable=True),
    Column("lease_expire_at", BigInteger, nullable=True),
    Column("deadline_at", BigInteger, nullable=True),
    Column("executor", String(128), nullable=True),
    # Static parameters of its template node (e.g. the zone it acts on), as a JSON object of strings.
    Column("params", Text, nullable=True),
    # The output context of the last successful run (the input of its downstreams), as JSON.
    Column("context", LongText, nullable=True),
    Column("error", String(1024), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_subtask_instance_task_id_state", "task_id", "state"),
    Index("ix_subtask_instance_state", "state"),
    # A follower's reload reads only what changed: without it, every row of the task was looked at.
    Index("ix_subtask_instance_task_id_task_version", "task_id", "task_version"),
)

subtask_dependency = Table(
    "subtask_dependency",
    metadata,
    Column("parent_id", Id, ForeignKey("subtask_instance.id", ondelete="CASCADE"), primary_key=True),
    Column("child_id", Id, ForeignKey("subtask_instance.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", Id, ForeignKey("task_instance.id", ondelete="CASCADE"), nullable=False),
    Index("ix_subtask_dependency_child_id", "child_id"),
    Index("ix_subtask_dependency_task_id", "task_id"),
)

subtask_log = Table(
    "subtask_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subtask_id", Id, ForeignKey("subtask_instance.id", ondelete="CASCADE"), nullable=False),
    Column("run_time", Integer, nullable=False),
    Column("operation", String(16), nullable=False),
    Column("content", LongText, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_subtask_log_subtask_id", "subtask_id"),
)

# One row per locked resource; the primary key makes two holders of the same resource impossible.
resource_lock = Table(
    "resource_lock",
    metadata,
    Column("resource_type", String(16), primary_key=True),
    Column("resource_id", BigInteger, primary_key=True),
    Column("cluster_id", BigInteger, nullable=False),
    Column("zone_id", BigInteger, nullable=True),
    Column("task_id", Id, ForeignKey("task_instance.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_resource_lock_cluster_id", "cluster_id"),
    Index("ix_resource_lock_task_id", "task_id"),
)

# A row per cluster that every lock-taking submission updates first, so checks of the lock hierarchy
# (a cluster lock excludes its zones and servers) are serialised on PostgreSQL and MySQL as on SQLite.
resource_lock_guard = Table(
    "resource_lock_guard",
    metadata,
    Column("cluster_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False, default=0),
)
