"""notification channels, their delivery outbox and attempts

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")
_LONG = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mariadb").with_variant(mysql.MEDIUMTEXT(), "mysql")


def upgrade() -> None:
    op.create_table(
        "alarm_channel",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("headers_enc", sa.Text(), nullable=True),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("subscriptions", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("creator", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_channel")),
        sa.UniqueConstraint("name", name=op.f("uq_alarm_channel_name")),
    )
    op.create_table(
        "alarm_delivery",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("channel_id", _ID, nullable=False),
        sa.Column("delivery_key", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", _LONG, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expire_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["alarm_channel.id"],
            name=op.f("fk_alarm_delivery_channel_id_alarm_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_delivery")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_alarm_delivery_delivery_key")),
    )
    with op.batch_alter_table("alarm_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alarm_delivery_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_alarm_delivery_channel_id", ["channel_id"], unique=False)
    op.create_table(
        "alarm_delivery_attempt",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("delivery_id", _ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["alarm_delivery.id"],
            name=op.f("fk_alarm_delivery_attempt_delivery_id_alarm_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_delivery_attempt")),
    )
    with op.batch_alter_table("alarm_delivery_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_alarm_delivery_attempt_delivery_id", ["delivery_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alarm_delivery_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_delivery_attempt_delivery_id")
    op.drop_table("alarm_delivery_attempt")
    with op.batch_alter_table("alarm_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_delivery_channel_id")
        batch_op.drop_index("ix_alarm_delivery_status_next_attempt_at")
    op.drop_table("alarm_delivery")
    op.drop_table("alarm_channel")
