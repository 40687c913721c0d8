"""access keys (AK/SK) and used signatures

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "iam_access_key",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("access_key_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["iam_user.id"], name=op.f("fk_iam_access_key_user_id_iam_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_iam_access_key")),
        sa.UniqueConstraint("access_key_id", name=op.f("uq_iam_access_key_access_key_id")),
    )
    with op.batch_alter_table("iam_access_key", schema=None) as batch_op:
        batch_op.create_index("ix_iam_access_key_user_id", ["user_id"], unique=False)
    op.create_table(
        "iam_access_key_replay",
        sa.Column("signature_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signature_hash", name=op.f("pk_iam_access_key_replay")),
    )
    with op.batch_alter_table("iam_access_key_replay", schema=None) as batch_op:
        batch_op.create_index("ix_iam_access_key_replay_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("iam_access_key_replay", schema=None) as batch_op:
        batch_op.drop_index("ix_iam_access_key_replay_expires_at")
    op.drop_table("iam_access_key_replay")
    with op.batch_alter_table("iam_access_key", schema=None) as batch_op:
        batch_op.drop_index("ix_iam_access_key_user_id")
    op.drop_table("iam_access_key")
