"""The audit trail: one row per call that changed something, or tried to (a refusal keeps its error code).

Written only by `obcp.audit` (in the transaction of the change it records); pruned after the retention.
No column ever holds a secret: the summary is the request with every secret-looking field removed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from obcp.meta.base import Id, metadata

audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Milliseconds since the epoch, by the replica's clock.
    Column("created_at", BigInteger, nullable=False),
    # Who: the user's name and id, and the access key when the call was signed with one. A failed login
    # names the user it tried (no id), or the access key id it presented.
    Column("user_name", String(64), nullable=True),
    Column("user_id", Id, nullable=True),
    Column("access_key_id", String(64), nullable=True),
    Column("client_address", String(64), nullable=False),
    # e.g. CLUSTER_RESTART, USER_CREATE, LOGIN (docs/api.md lists them).
    Column("action", String(64), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", String(128), nullable=True),
    # SUCCESS or FAILED; a failure keeps OCP's error code.
    Column("result", String(16), nullable=False),
    Column("error_code", Integer, nullable=True),
    Column("trace_id", String(64), nullable=False),
    # The request as JSON, secrets removed.
    Column("summary", Text, nullable=False),
    Index("ix_audit_event_created_at", "created_at"),
    Index("ix_audit_event_user_name", "user_name"),
    Index("ix_audit_event_action", "action"),
    Index("ix_audit_event_resource_type", "resource_type", "resource_id"),
)
