"""cluster parameter changes

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.INTEGER(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ob_parameter_change",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("cluster_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("need_restart", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("server_start_times", sa.Text(), nullable=False),
        sa.Column("pending_server_ids", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["ob_cluster.id"],
            name=op.f("fk_ob_parameter_change_cluster_id_ob_cluster"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ob_parameter_change")),
    )
    with op.batch_alter_table("ob_parameter_change", schema=None) as batch_op:
        batch_op.create_index("ix_ob_parameter_change_cluster_id_name", ["cluster_id", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ob_parameter_change", schema=None) as batch_op:
        batch_op.drop_index("ix_ob_parameter_change_cluster_id_name")
    op.drop_table("ob_parameter_change")
