"""Browser sessions of the web console, in the metadb so that every server replica knows every session.

Only a SHA-256 of the session id is stored: whoever reads the metadb cannot replay a cookie from it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from obcp.meta.base import Id, metadata

web_session = Table(
    "web_session",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("iam_user.id", ondelete="CASCADE"), nullable=False),
    # Sent back by the page in X-CSRF-Token; a cross-site page can neither read it nor guess it.
    Column("csrf_token", String(64), nullable=False),
    # The user's credential_epoch when the session began: a later one ends the session.
    Column("credential_epoch", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Index("ix_web_session_user_id", "user_id"),
    Index("ix_web_session_last_seen_at", "last_seen_at"),
)
