"""failed logins, credential epochs of users and sessions

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iam_login_failure",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_iam_login_failure")),
    )
    with op.batch_alter_table("iam_login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_iam_login_failure_first_failed_at", ["first_failed_at"], unique=False)
    with op.batch_alter_table("iam_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_epoch", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_column("credential_epoch")
    with op.batch_alter_table("iam_user", schema=None) as batch_op:
        batch_op.drop_column("credential_epoch")
    with op.batch_alter_table("iam_login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_iam_login_failure_first_failed_at")
    op.drop_table("iam_login_failure")
