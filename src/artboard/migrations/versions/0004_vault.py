"""vault: each user's provider keys, sealed under their vault password

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from artboard.models.base import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_keys",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("owner_id", sa.String(length=15), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_vault_keys_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_keys")),
        sa.UniqueConstraint("owner_id", "provider", name="uq_vault_keys_owner_provider"),
    )


def downgrade() -> None:
    op.drop_table("vault_keys")
