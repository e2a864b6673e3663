"""The key vault: each user's provider keys, sealed under a password only they know (``vault/crypto.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from artboard.models.base import Base, id_column, timestamp_column


class VaultKey(Base):
    __tablename__ = "vault_keys"
    __table_args__ = (UniqueConstraint("owner_id", "provider", name="uq_vault_keys_owner_provider"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    # The sealed text names its scheme and PBKDF2 iteration count; seed 001's "encrypted.salt" is read too.
    sealed: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = timestamp_column()
