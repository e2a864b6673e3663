"""queue index in claim order: priority descending, so a claim reads each owner's next jobs off the index
instead of sorting all of that owner's queued jobs on every round

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
    op.drop_index("ix_jobs_queue", table_name="jobs")
    op.create_index("ix_jobs_queue", "jobs", ["status", "owner_id", sa.text("priority DESC"), "created", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_queue", table_name="jobs")
    op.create_index("ix_jobs_queue", "jobs", ["status", "owner_id", "priority", "created", "id"])
