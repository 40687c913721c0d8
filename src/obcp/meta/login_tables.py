"""Failed logins, counted in the metadb so that every server replica sees them (owner: `obcp.iam.lockout`).

One row per subject that failed recently: `user:<name>` for a user that exists, `name:<HMAC of the name>`
for one that does not (so an unknown name is answered as a known one, without storing what was typed), and
`addr:<IP address>` for the address the attempts came from.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from obcp.meta.base import metadata

iam_login_failure = Table(
    "iam_login_failure",
    metadata,
    Column("subject", String(80), primary_key=True),
    # Failures since first_failed_at; they are forgotten once the failure window has passed.
    Column("failures", Integer, nullable=False),
    Column("first_failed_at", BigInteger, nullable=False),
    # Set when the failures reached the limit: every attempt is refused until then, right password or not.
    Column("locked_until", BigInteger, nullable=True),
    Index("ix_iam_login_failure_first_failed_at", "first_failed_at"),
)
