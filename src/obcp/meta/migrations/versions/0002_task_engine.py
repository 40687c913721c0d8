"""task engine

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_lock_guard",
        sa.Column("cluster_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_resource_lock_guard")),
    )
    op.create_table(
        "task_instance",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("template", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("creator", sa.String(length=64), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=True),
        sa.Column("executor", sa.String(length=128), nullable=True),
        sa.Column("cluster_id", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("host_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "context",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mariadb").with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("prohibit_rollback", sa.Boolean(), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance")),
    )
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.create_index("ix_task_instance_cluster_id", ["cluster_id"], unique=False)
        batch_op.create_index("ix_task_instance_state", ["state"], unique=False)

    op.create_table(
        "resource_lock",
        sa.Column("resource_type", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.BigInteger(), nullable=False),
        sa.Column("cluster_id", sa.BigInteger(), nullable=False),
        sa.Column("zone_id", sa.BigInteger(), nullable=True),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task_instance.id"],
            name=op.f("fk_resource_lock_task_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", name=op.f("pk_resource_lock")),
    )
    with op.batch_alter_table("resource_lock", schema=None) as batch_op:
        batch_op.create_index("ix_resource_lock_cluster_id", ["cluster_id"], unique=False)
        batch_op.create_index("ix_resource_lock_task_id", ["task_id"], unique=False)

    op.create_table(
        "subtask_instance",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("class_name", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("parallel_idx", sa.Integer(), nullable=False),
        sa.Column("run_time", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("upstreams", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("can_retry", sa.Boolean(), nullable=False),
        sa.Column("can_rollback", sa.Boolean(), nullable=False),
        sa.Column("can_skip", sa.Boolean(), nullable=False),
        sa.Column("can_cancel", sa.Boolean(), nullable=False),
        sa.Column("continue_after_crash", sa.Boolean(), nullable=False),
        sa.Column("prohibit_rollback", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expire_at", sa.BigInteger(), nullable=True),
        sa.Column("deadline_at", sa.BigInteger(), nullable=True),
        sa.Column("executor", sa.String(length=128), nullable=True),
        sa.Column("params", sa.Text(), nullable=True),
        sa.Column(
            "context",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mariadb").with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=True,
        ),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task_instance.id"],
            name=op.f("fk_subtask_instance_task_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subtask_instance")),
    )
    with op.batch_alter_table("subtask_instance", schema=None) as batch_op:
        batch_op.create_index("ix_subtask_instance_state", ["state"], unique=False)
        batch_op.create_index("ix_subtask_instance_task_id_state", ["task_id", "state"], unique=False)

    op.create_table(
        "subtask_dependency",
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("child_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["subtask_instance.id"],
            name=op.f("fk_subtask_dependency_child_id_subtask_instance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["subtask_instance.id"],
            name=op.f("fk_subtask_dependency_parent_id_subtask_instance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task_instance.id"],
            name=op.f("fk_subtask_dependency_task_id_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("parent_id", "child_id", name=op.f("pk_subtask_dependency")),
    )
    with op.batch_alter_table("subtask_dependency", schema=None) as batch_op:
        batch_op.create_index("ix_subtask_dependency_child_id", ["child_id"], unique=False)
        batch_op.create_index("ix_subtask_dependency_task_id", ["task_id"], unique=False)

    op.create_table(
        "subtask_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("subtask_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("run_time", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column(
            "content",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mariadb").with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subtask_id"],
            ["subtask_instance.id"],
            name=op.f("fk_subtask_log_subtask_id_subtask_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subtask_log")),
    )
    with op.batch_alter_table("subtask_log", schema=None) as batch_op:
        batch_op.create_index("ix_subtask_log_subtask_id", ["subtask_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subtask_log", schema=None) as batch_op:
        batch_op.drop_index("ix_subtask_log_subtask_id")

    op.drop_table("subtask_log")
    with op.batch_alter_table("subtask_dependency", schema=None) as batch_op:
        batch_op.drop_index("ix_subtask_dependency_task_id")
        batch_op.drop_index("ix_subtask_dependency_child_id")

    op.drop_table("subtask_dependency")

    with op.batch_alter_table("subtask_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_subtask_instance_task_id_state")
        batch_op.drop_index("ix_subtask_instance_state")

    op.drop_table("subtask_instance")
    with op.batch_alter_table("resource_lock", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_lock_task_id")
        batch_op.drop_index("ix_resource_lock_cluster_id")

    op.drop_table("resource_lock")
    with op.batch_alter_table("task_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_task_instance_state")
        batch_op.drop_index("ix_task_instance_cluster_id")

    op.drop_table("task_instance")
    op.drop_table("resource_lock_guard")
