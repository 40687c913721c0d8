"""host types and profile credentials (OCP's takeover call names both)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "compute_host_type",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_host_type")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_host_type_name")),
    )
    op.create_table(
        "profile_credential",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("ssh_type", sa.String(length=16), nullable=False),
        sa.Column("ssh_username", sa.String(length=64), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["iam_user.id"],
            name=op.f("fk_profile_credential_user_id_iam_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_credential")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_profile_credential_user_id_name")),
    )
    with op.batch_alter_table("profile_credential", schema=None) as batch_op:
        batch_op.create_index("ix_profile_credential_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("profile_credential", schema=None) as batch_op:
        batch_op.drop_index("ix_profile_credential_user_id")
    op.drop_table("profile_credential")
    op.drop_table("compute_host_type")
