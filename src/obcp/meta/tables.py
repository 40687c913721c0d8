"""The metadb's inventory and IAM tables, as SQLAlchemy Core: users and roles, hosts, clusters, zones,
servers and what obcp saw of a cluster's availability. The web sessions and the task engine's tables live
in modules of their own; `obcp.meta.schema` has them all.

Times are BIGINT epoch milliseconds: portable across SQLite, MySQL/OceanBase and PostgreSQL, and the same
unit as task leases. Ids are autoincrement integers.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from obcp.meta.base import Id, metadata

iam_user = Table(
    "iam_user",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("email", String(255), nullable=True),
    Column("description", String(255), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    # Raised by a password change, a role change, a lock or a logout: every session and cached credential
    # of the user made under an older value ends, on every replica (docs/security.md, "Sessions that end").
    Column("credential_epoch", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

iam_role = Table(
    "iam_role",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", String(255), nullable=True),
    # JSON list of permission expressions, e.g. ["CLUSTER:*:READ", "TASK:*:*"].
    Column("permissions", Text, nullable=False),
    Column("builtin", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

iam_user_role = Table(
    "iam_user_role",
    metadata,
    Column("user_id", Id, ForeignKey("iam_user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Id, ForeignKey("iam_role.id", ondelete="CASCADE"), primary_key=True),
)

compute_host = Table(
    "compute_host",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("address", String(64), nullable=False, unique=True),
    Column("agent_port", Integer, nullable=False),
    # The agent key, encrypted with the server's secret key; never returned by the API.
    Column("agent_key_enc", Text, nullable=False),
    Column("description", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

ob_cluster = Table(
    "ob_cluster",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("ob_cluster_id", BigInteger, nullable=False),
    Column("ob_version", String(64), nullable=True),
    Column("type", String(16), nullable=False, default="PRIMARY"),
    Column("status", String(32), nullable=False),
    # The root@sys password, encrypted with the server's secret key; never returned by the API.
    Column("root_password_enc", Text, nullable=False),
    Column("creator", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

ob_zone = Table(
    "ob_zone",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("cluster_id", Id, ForeignKey("ob_cluster.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("idc_name", String(128), nullable=True),
    Column("region_name", String(128), nullable=True),
    Column("status", String(32), nullable=False),
    Column("inner_status", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("cluster_id", "name"),
)

ob_server = Table(
    "ob_server",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("cluster_id", Id, ForeignKey("ob_cluster.id", ondelete="CASCADE"), nullable=False),
    Column("zone_id", Id, ForeignKey("ob_zone.id", ondelete="CASCADE"), nullable=False),
    Column("host_id", Id, ForeignKey("compute_host.id"), nullable=False),
    Column("sql_port", Integer, nullable=False),
    Column("rpc_port", Integer, nullable=False),
    # The observer's name in its host agent's configuration.
    Column("observer_name", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("inner_status", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("host_id", "sql_port"),
    UniqueConstraint("host_id", "observer_name"),
)

# What obcp saw of a cluster's availability while an operation task ran: the longest interval in which no
# observer of the cluster answered SQL (obcp.operations.availability).
operation_availability = Table(
    "operation_availability",
    metadata,
    Column("task_id", BigInteger, primary_key=True, autoincrement=False),
    Column("cluster_id", Id, ForeignKey("ob_cluster.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("observers", Integer, nullable=False),
    Column("interval_ms", Integer, nullable=False),
    Column("samples", Integer, nullable=False, default=0),
    Column("failed_samples", Integer, nullable=False, default=0),
    Column("longest_outage_ms", BigInteger, nullable=False, default=0),
    # Start of the outage in progress (no observer answered since), or NULL.
    Column("outage_since", BigInteger, nullable=True),
    # Time in which no monitor ran (a server crash): the figure cannot speak for it.
    Column("unobserved_ms", BigInteger, nullable=False, default=0),
    Column("started_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)
