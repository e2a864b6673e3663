"""queue index: the queue's per-user questions (how many queued, who is ahead, each user's next turn) read
one index instead of the table

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_queue", "jobs", ["status", "owner_id", "priority", "created", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_queue", table_name="jobs")
