"""Who verifies a token: Artboard itself (``local``), or a PocketBase server whose users are mirrored here.

``ARTBOARD_AUTH_PROVIDER`` picks one; ``auth/deps.py`` asks it for every token a request presents.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.auth.principal import Principal, TokenCache
from artboard.auth.service import Accounts
from artboard.config import ConfigError, Settings
from artboard.kit.tokens import TokenClaims

Resolved = tuple[Principal, TokenClaims]


class Identity(Protocol):
    async def resolve(self, token: str) -> Resolved | None:
        """Who the token belongs to, or None when it is forged, expired or revoked; raises ``Unavailable``
        when the provider that would know cannot be asked."""

    async def close(self) -> None: ...


class LocalIdentity:
    """Artboard's own tokens. Most requests repeat a recently verified token: only a miss opens a (read-only)
    database session."""

    def __init__(self, accounts: Accounts, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._accounts = accounts
        self._sessions = sessions

    async def resolve(self, token: str) -> Resolved | None:
        resolved = self._accounts.recall(token)
        if resolved is None:
            async with self._sessions() as db:
                resolved = await self._accounts.resolve_token(db, token)
        return resolved

    async def close(self) -> None:
        return None


def build_identity(
    settings: Settings, accounts: Accounts, sessions: async_sessionmaker[AsyncSession], cache: TokenCache
) -> Identity:
    """The identity ``ARTBOARD_AUTH_PROVIDER`` names; PocketBase's also accepts Artboard's own tokens (locally
    created admins)."""
    local = LocalIdentity(accounts, sessions)
    if settings.auth_provider == "pocketbase":
        from artboard.auth.identity_pocketbase import PocketBaseIdentity

        if not settings.pocketbase_url:
            raise ConfigError("ARTBOARD_AUTH_PROVIDER=pocketbase needs ARTBOARD_POCKETBASE_URL")

        return PocketBaseIdentity(
            settings.pocketbase_url, local, accounts, sessions, cache, cache_s=settings.pocketbase_cache_s
        )
    return local
