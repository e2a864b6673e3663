"""The one user base every sign-in flow shares."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from artboard.models.base import Base, id_column, timestamp_column


def new_token_key() -> str:
    return secrets.token_urlsafe(32)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(320))
    # Lower-cased email: the unique index that makes "A@x.io" and "a@x.io" one account.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="user")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    gpu_endpoint: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # The secret every call to gpu_endpoint is signed with, sealed with the server key; new on every change.
    gpu_signing_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Spending cap per calendar month set by an admin; None = the server's ARTBOARD_MONTHLY_BUDGET.
    monthly_budget: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Part of every access token's signing key: rotating it revokes all of the user's tokens at once.
    token_key: Mapped[str] = mapped_column(String(64), default=new_token_key)
    # A user mirrored from an outside identity provider ("pocketbase:<collectionId>:<recordId>"), None for a
    # local account. Such a user signs in there only: no password here, and email_key holds this id.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created: Mapped[datetime] = timestamp_column()
    updated: Mapped[datetime] = timestamp_column(onupdate=True)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
