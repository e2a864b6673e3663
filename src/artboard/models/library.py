"""Gallery tables: stored image bytes (blobs), the user's images, folders and per-model preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from artboard.models.base import Base, UTCDateTime, id_column, timestamp_column


class Blob(Base):
    """One set of stored files per distinct upload of a user: identical bytes are stored once.

    A blob row is written (state ``pending``) before its files, and marked ``ready`` after them, so a crash
    in between leaves a row that names every file to clean up, never an unnamed file.
    """

    __tablename__ = "blobs"
    __table_args__ = (UniqueConstraint("owner_id", "sha256", name="uq_blobs_owner_sha256"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    content_type: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    archive_key: Mapped[str] = mapped_column(String(512))
    thumb_key: Mapped[str] = mapped_column(String(512))
    square_key: Mapped[str] = mapped_column(String(512))
    created: Mapped[datetime] = timestamp_column()

    @property
    def keys(self) -> list[str]:
        return [self.archive_key, self.thumb_key, self.square_key]


class Folder(Base):
    __tablename__ = "folders"

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), nullable=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = timestamp_column()
    updated: Mapped[datetime] = timestamp_column(onupdate=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class Image(Base):
    """An image in a user's gallery; ``source`` tells which API made it (``collection`` = seed 002 items)."""

    __tablename__ = "images"

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"), index=True)
    folder_id: Mapped[str | None] = mapped_column(
        ForeignKey("folders.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(32), default="upload")
    upload_key: Mapped[str | None] = mapped_column(String(512), nullable=True, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Lineage of an image a job made: the job, the image it started from, and {engine, model, parameters, cost}.
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, index=True)
    source_image_id: Mapped[str | None] = mapped_column(String(15), nullable=True)
    lineage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created: Mapped[datetime] = timestamp_column()
    updated: Mapped[datetime] = timestamp_column(onupdate=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class Preference(Base):
    __tablename__ = "preferences"
    __table_args__ = (UniqueConstraint("owner_id", "model_name", name="uq_preferences_owner_model"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated: Mapped[datetime] = timestamp_column(onupdate=True)
