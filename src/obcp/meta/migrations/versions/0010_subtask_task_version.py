"""subtask_instance.task_version (the task's version at the row's last change) and its index

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this column read as changed at version 0: a follower reads a task whole the first
    # time, so it never asks for what changed before that.
    with op.batch_alter_table("subtask_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            "ix_subtask_instance_task_id_task_version", ["task_id", "task_version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subtask_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_subtask_instance_task_id_task_version")
        batch_op.drop_column("task_version")
