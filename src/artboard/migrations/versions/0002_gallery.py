"""gallery: stored blobs, images, folders, preferences

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from artboard.models.base import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("owner_id", sa.String(length=15), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("archive_key", sa.String(length=512), nullable=False),
        sa.Column("thumb_key", sa.String(length=512), nullable=False),
        sa.Column("square_key", sa.String(length=512), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_blobs_owner_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blobs")),
        sa.UniqueConstraint("owner_id", "sha256", name="uq_blobs_owner_sha256"),
    )
    op.create_index("ix_blobs_owner_id", "blobs", ["owner_id"])

    op.create_table(
        "folders",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("owner_id", sa.String(length=15), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.String(length=15), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_folders_owner_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["folders.id"], name=op.f("fk_folders_parent_id_folders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folders")),
    )
    op.create_index("ix_folders_deleted_at", "folders", ["deleted_at"])
    op.create_index("ix_folders_owner_id", "folders", ["owner_id"])

    op.create_table(
        "preferences",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("owner_id", sa.String(length=15), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_preferences_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preferences")),
        sa.UniqueConstraint("owner_id", "model_name", name="uq_preferences_owner_model"),
    )
    op.create_index("ix_preferences_owner_id", "preferences", ["owner_id"])

    op.create_table(
        "images",
        sa.Column("id", sa.String(length=15), nullable=False),
        sa.Column("owner_id", sa.String(length=15), nullable=False),
        sa.Column("blob_id", sa.String(length=15), nullable=False),
        sa.Column("folder_id", sa.String(length=15), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("upload_key", sa.String(length=512), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["blob_id"], ["blobs.id"], name=op.f("fk_images_blob_id_blobs")),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["folders.id"], name=op.f("fk_images_folder_id_folders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_images_owner_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
    )
    op.create_index("ix_images_blob_id", "images", ["blob_id"])
    op.create_index("ix_images_deleted_at", "images", ["deleted_at"])
    op.create_index("ix_images_folder_id", "images", ["folder_id"])
    op.create_index("ix_images_owner_id", "images", ["owner_id"])
    op.create_index("ix_images_upload_key", "images", ["upload_key"])


def downgrade() -> None:
    op.drop_index("ix_images_upload_key", table_name="images")
    op.drop_index("ix_images_owner_id", table_name="images")
    op.drop_index("ix_images_folder_id", table_name="images")
    op.drop_index("ix_images_deleted_at", table_name="images")
    op.drop_index("ix_images_blob_id", table_name="images")

    op.drop_table("images")
    op.drop_index("ix_preferences_owner_id", table_name="preferences")

    op.drop_table("preferences")
    op.drop_index("ix_folders_owner_id", table_name="folders")
    op.drop_index("ix_folders_deleted_at", table_name="folders")

    op.drop_table("folders")
    op.drop_index("ix_blobs_owner_id", table_name="blobs")

    op.drop_table("blobs")
