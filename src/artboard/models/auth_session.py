"""Sign-in sessions and their rotating refresh tokens.

Every login opens a session; each access token names its session, so revoking the session (logout,
refresh-token reuse) ends the access tokens issued under it too, not only the refresh token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from artboard.models.base import Base, UTCDateTime, id_column, timestamp_column


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = timestamp_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = id_column()
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    # sha256 of the token: a leaked table cannot be replayed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = timestamp_column()
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
