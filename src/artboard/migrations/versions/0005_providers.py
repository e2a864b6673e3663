"""providers: resumable provider calls and sealed keys on jobs, the cost ledger, budgets, GPU signing secrets

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from artboard.models.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("provider_state", sa.JSON(), nullable=True))
        jobs.add_column(sa.Column("sealed_key", sa.Text(), nullable=True))
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("gpu_signing_secret", sa.Text(), nullable=True))
        users.add_column(sa.Column("monthly_budget", sa.Float(), nullable=True))
    op.create_table(
        "cost_entries",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("owner_id", sa.String(length=15), nullable=False),
        sa.Column("job_id", sa.String(length=15), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_cost_entries_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_entries")),
        sa.UniqueConstraint("job_id", name=op.f("uq_cost_entries_job_id")),
    )
    op.create_index("ix_cost_entries_owner_created", "cost_entries", ["owner_id", "created"])


def downgrade() -> None:
    op.drop_index("ix_cost_entries_owner_created", table_name="cost_entries")
    op.drop_table("cost_entries")
    with op.batch_alter_table("users") as users:
        users.drop_column("monthly_budget")
        users.drop_column("gpu_signing_secret")
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_column("sealed_key")
        jobs.drop_column("provider_state")
