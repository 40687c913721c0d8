"""Access keys (OCP 4.x AK/SK) and the signatures already used, in the metadb so every replica sees them.

The secret is stored encrypted with the server's secret key: verifying an HMAC needs it in clear, so a hash
would not do. A used signature is kept (as a SHA-256) until its Date leaves the accepted window, after which
the clock check alone refuses it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text

from obcp.meta.base import Id, metadata

iam_access_key = Table(
    "iam_access_key",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The AccessKeyId a client sends in its Authorization header.
    Column("access_key_id", String(64), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("iam_user.id", ondelete="CASCADE"), nullable=False),
    Column("secret_enc", Text, nullable=False),
    Column("description", String(255), nullable=True),
    # ACTIVE or DISABLED.
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Index("ix_iam_access_key_user_id", "user_id"),
)

iam_access_key_replay = Table(
    "iam_access_key_replay",
    metadata,
    Column("signature_hash", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_iam_access_key_replay_expires_at", "expires_at"),
)
