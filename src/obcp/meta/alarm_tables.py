"""Notification channels (OCP's alarm channels), the outbox of their deliveries, and every attempt made.

A delivery row is written in the transaction of the event it reports (a task settling FAILED or SUCCESSFUL,
a parameter change pending a restart), so an event is never lost nor reported without having happened; a
sender loop in any server replica claims it with a guarded UPDATE (owner + lease, by the metadb's clock) and
records each attempt. Owners: `obcp.notify.channels` (alarm_channel) and `obcp.notify.deliveries` (the two
others).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from obcp.meta.base import Id, LongText, metadata

alarm_channel = Table(
    "alarm_channel",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    # OCP's channel type; obcp sends HTTP webhooks only.
    Column("type", String(16), nullable=False),
    Column("url", String(1024), nullable=False),
    # JSON object of extra request headers, encrypted with the server's secret box (they may hold tokens).
    Column("headers_enc", Text, nullable=True),
    # The signing secret, encrypted with the server's secret box; never leaves obcp.notify.
    Column("secret_enc", Text, nullable=False),
    # JSON list of {"event", "taskNames", "clusterIds"}: what the channel is told of.
    Column("subscriptions", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("description", String(255), nullable=True),
    Column("creator", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

alarm_delivery = Table(
    "alarm_delivery",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("alarm_channel.id", ondelete="CASCADE"), nullable=False),
    # The idempotency key: the same in every attempt of this delivery (X-OBCP-Delivery-Id).
    Column("delivery_key", String(64), nullable=False, unique=True),
    Column("event", String(32), nullable=False),
    # The body sent, as JSON (the same bytes in every attempt).
    Column("payload", LongText, nullable=False),
    # PENDING (waiting for its next attempt or being sent), SENT, FAILED.
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    # The replica sending it now and until when (metadb clock); a lease that ran out may be taken over.
    Column("owner", String(128), nullable=True),
    Column("lease_expire_at", BigInteger, nullable=True),
    Column("last_error", String(1024), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_alarm_delivery_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_alarm_delivery_channel_id", "channel_id"),
)

alarm_delivery_attempt = Table(
    "alarm_delivery_attempt",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("alarm_delivery.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("sender", String(128), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    # The receiver's HTTP status, or null when none came (refused, timed out, unreachable).
    Column("status_code", Integer, nullable=True),
    Column("error", String(1024), nullable=True),
    Index("ix_alarm_delivery_attempt_delivery_id", "delivery_id"),
)
