"""pocketbase identity: users mirrored from a PocketBase server, linked by a stable external id

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


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        users.create_unique_constraint(op.f("uq_users_external_id"), ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_constraint(op.f("uq_users_external_id"), type_="unique")
        users.drop_column("external_id")
