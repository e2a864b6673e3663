"""Accounts: registration, sign-in, sessions, token rotation and revocation.

One user base serves every sign-in flow (seed 002's bearer pair, seed 004's cookies, PocketBase records);
whatever flow issued a token, ``resolve_token`` accepts it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.auth import repository
from artboard.auth.gpu_signing import GpuSigning
from artboard.auth.principal import Principal, RevocationBus, TokenCache
from artboard.auth.schemas import Username
from artboard.db import after_commit
from artboard.errors import AuthenticationFailed, Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from artboard.kit.netguard import Allowlist, BlockedDestination, check_url
from artboard.kit.passwords import hash_password, verify_password
from artboard.kit.ratelimit import FailureCounter, PasswordAttempts
from artboard.kit.tokens import USERS_COLLECTION_ID, TokenClaims, TokenSigner, digest, new_refresh_token
from artboard.models import AuthSession, RefreshToken, User
from artboard.models.base import utcnow
from artboard.models.user import new_token_key

INVALID_CREDENTIALS = "Invalid email or password."
# The password hash of a user who signs in elsewhere (an identity provider): not a hash, so nothing matches it.
UNUSABLE_HASH = "!"
_username = TypeAdapter(Username)


class RefreshTokenReused(AuthenticationFailed):
    """A rotated refresh token came back: its session is revoked, and that revocation must be kept."""

    commit = True


@dataclass(frozen=True)
class LoginLimits:
    per_account: int
    per_ip: int
    window_s: int


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def check_gpu_endpoint(endpoint: str, allowlist: Sequence[str]) -> None:
    """The server will call this URL itself: never its cloud's metadata, internal hosts only when allowed."""
    try:
        check_url(endpoint, Allowlist.parse(allowlist))
    except BlockedDestination as exc:
        if exc.allowable:
            why = f"{exc.reason}; the server's operator can allow it in ARTBOARD_GPU_ENDPOINT_ALLOWLIST"
        else:
            why = f"{exc.reason}, which is never allowed"
        raise ValidationFailed(f"The GPU endpoint is refused: {why}.", detail={"field": "gpu_endpoint"}) from None


class Accounts:
    def __init__(
        self,
        signer: TokenSigner,
        refresh_lifetime: timedelta,
        failures: FailureCounter,
        limits: LoginLimits,
        cache: TokenCache,
        gpu_signing: GpuSigning,
        bus: RevocationBus | None = None,
    ) -> None:
        self.signer = signer
        self._gpu_signing = gpu_signing
        self.refresh_lifetime = refresh_lifetime
        self._attempts = PasswordAttempts(failures, limits.per_account, limits.per_ip, limits.window_s)
        self._cache = cache
        self._bus = bus

    async def register(
        self,
        db: AsyncSession,
        email: str,
        password: str,
        *,
        username: str | None = None,
        gpu_endpoint: str | None = None,
        gpu_allowlist: Sequence[str] = (),
        role: str = "user",
    ) -> User:
        if gpu_endpoint is not None:
            check_gpu_endpoint(gpu_endpoint, gpu_allowlist)
        if await repository.user_by_email(db, email):
            raise Conflict("An account with this email already exists.", detail={"field": "email"})
        if username is not None and await repository.username_taken(db, username):
            raise Conflict("This username is taken.", detail={"field": "username"})
        user = User(
            email=email,
            email_key=email.lower(),
            username=username or await self._free_username(db, email),
            password_hash=await hash_password(password),
            role=role,
            disabled=False,
            gpu_endpoint=gpu_endpoint,
            token_key=new_token_key(),
        )
        db.add(user)
        try:
            async with db.begin_nested():
                await db.flush()
        except IntegrityError:
            raise Conflict("An account with this email or username already exists.") from None
        return user

    async def register_with_gpu_endpoint(
        self,
        db: AsyncSession,
        email: str,
        password: str,
        *,
        username: str | None,
        gpu_endpoint: str | None,
        gpu_allowlist: Sequence[str],
    ) -> tuple[User, str | None]:
        """Seed 002's sign-up: an account whose GPU endpoint, when given, gets its signing secret at once (shown
        in this reply only), so GPU jobs work without a second call to ``PUT /auth/gpu-endpoint``."""
        user = await self.register(
            db, email, password, username=username, gpu_endpoint=gpu_endpoint, gpu_allowlist=gpu_allowlist
        )
        secret = self._gpu_signing.renew(user) if gpu_endpoint is not None else None
        return user, secret

    async def mirror(self, db: AsyncSession, external_id: str, email: str, username: str | None) -> User:
        """The local row of a user an identity provider vouches for: made on first sight, its email and username
        kept as the provider has them. ``email_key`` holds the external id, so the row never collides with, nor
        signs in as, a local account or another provider's user of the same email."""
        user = await repository.user_by_external_id(db, external_id)
        if user is None:
            free = await self._mirrored_username(db, username) or await self._free_username(db, username or email)
            user = User(
                external_id=external_id,
                email=email,
                email_key=external_id,
                username=free,
                password_hash=UNUSABLE_HASH,
                role="user",
                disabled=False,
                token_key=new_token_key(),
            )
            db.add(user)
            try:
                async with db.begin_nested():
                    await db.flush()
            except IntegrityError:  # another request mirrored them first
                user = await repository.user_by_external_id(db, external_id)
                if user is None:
                    raise
            return user
        wanted = await self._mirrored_username(db, username) if username != user.username else None
        if user.email != email or wanted:
            user.email, user.username = email, wanted or user.username
            await db.flush()
            self._forget(db, user.id)
        return user

    async def _mirrored_username(self, db: AsyncSession, username: str | None) -> str | None:
        """The provider's username when it is one Artboard accepts and nobody here has it."""
        if username is None or await repository.username_taken(db, username):
            return None
        try:
            return _username.validate_python(username)
        except ValidationError:
            return None

    async def _free_username(self, db: AsyncSession, email: str) -> str:
        base = re.sub(r"[^a-z0-9_.-]", "", email.split("@")[0].lower())[:40] or "user"
        base = base if len(base) >= 3 else f"{base}user"
        candidate = base
        while await repository.username_taken(db, candidate):
            candidate = f"{base}{secrets.randbelow(1_000_000):06d}"
        return candidate

    async def authenticate(self, db: AsyncSession, email: str, password: str, client_ip: str) -> User:
        """Check a password under per-account and per-IP attempt limits; one answer for every failure."""
        account_key, ip_key = f"account:{email.lower()}", f"ip:{client_ip}"
        wait = await self._attempts.count(account_key, ip_key)
        if wait:
            raise RateLimited(f"Too many failed sign-in attempts. Try again in {wait} seconds.", retry_after=wait)
        user = await repository.user_by_email(db, email)
        if not await verify_password(user.password_hash if user else None, password) or user is None:
            raise AuthenticationFailed(INVALID_CREDENTIALS)
        await self._attempts.succeeded(account_key, ip_key)
        if user.disabled:
            raise Forbidden("This account is disabled.")
        return user

    async def open_session(
        self, db: AsyncSession, user: User, collection_id: str = USERS_COLLECTION_ID
    ) -> IssuedTokens:
        now = utcnow()
        session = AuthSession(user_id=user.id, created=now, expires_at=now + self.refresh_lifetime)
        db.add(session)
        await db.flush()
        return await self._issue(db, user, session, collection_id, now)

    async def _issue(
        self, db: AsyncSession, user: User, session: AuthSession, collection_id: str, now: datetime
    ) -> IssuedTokens:
        refresh = new_refresh_token()
        db.add(RefreshToken(session_id=session.id, token_hash=digest(refresh), created=now))
        session.expires_at = now + self.refresh_lifetime
        await db.flush()
        access = self.signer.issue(user.token_key, TokenClaims(user.id, session.id, collection_id), now)
        return IssuedTokens(access, refresh, int(self.signer.lifetime.total_seconds()))

    async def rotate(self, db: AsyncSession, refresh_token: str) -> IssuedTokens:
        """Trade a refresh token for a new pair; a token presented twice revokes its whole session."""
        found = await repository.refresh_token_by_hash(db, digest(refresh_token))
        if found is None:
            raise AuthenticationFailed("The refresh token is invalid or expired.")
        token, session = found
        now = utcnow()
        if token.used_at is not None or not await repository.mark_refresh_token_used(db, token.id, now):
            session.revoked_at = session.revoked_at or now
            self._forget(db, session.user_id)
            raise RefreshTokenReused("This refresh token was already used; the session has been ended.")
        user = await repository.user_by_id(db, session.user_id)
        if user is None or user.disabled or session.revoked_at is not None or session.expires_at <= now:
            raise AuthenticationFailed("The refresh token is invalid or expired.")
        return await self._issue(db, user, session, USERS_COLLECTION_ID, now)

    async def refresh_access(self, db: AsyncSession, user_id: str, claims: TokenClaims) -> str:
        """PocketBase-style refresh: a new access token for the same session, which is extended."""
        session = await db.get(AuthSession, claims.session_id)
        user = await repository.user_by_id(db, user_id)
        if session is None or user is None:
            raise AuthenticationFailed("The session has ended.")
        now = utcnow()
        session.expires_at = now + self.refresh_lifetime
        return self.signer.issue(user.token_key, claims, now)

    async def end_session_by_refresh_token(self, db: AsyncSession, refresh_token: str) -> None:
        found = await repository.refresh_token_by_hash(db, digest(refresh_token))
        if found is not None:
            await self._revoke(db, found[1])

    async def end_session(self, db: AsyncSession, session_id: str) -> None:
        session = await db.get(AuthSession, session_id)
        if session is not None:
            await self._revoke(db, session)

    async def _revoke(self, db: AsyncSession, session: AuthSession) -> None:
        session.revoked_at = session.revoked_at or utcnow()
        self._forget(db, session.user_id)

    def _forget(self, db: AsyncSession, user_id: str) -> None:
        """Drop the user's cached tokens now and again once the change is committed: a token checked in
        between would otherwise be cached from the state before the change."""
        self._cache.forget_user(user_id)

        async def again() -> None:
            self._cache.forget_user(user_id)
            if self._bus is not None:
                await self._bus.publish(user_id)

        after_commit(db, again)

    def recall(self, token: str) -> tuple[Principal, TokenClaims] | None:
        """The result of a recent ``resolve_token`` for this token, if still valid; costs no I/O."""
        cached = self._cache.get(token)
        if cached is None:
            return None
        return cached.principal, TokenClaims(cached.principal.id, cached.session_id, cached.collection_id)

    async def resolve_token(self, db: AsyncSession, token: str) -> tuple[Principal, TokenClaims] | None:
        """Who the token belongs to, or None when it is forged, expired, revoked or the user disabled."""
        cached = self.recall(token)
        if cached is not None:
            return cached
        claims = self.signer.peek(token)
        if claims is None:
            return None
        generation = self._cache.generation(claims.user_id)
        found = await repository.user_with_session(db, claims.user_id, claims.session_id)
        if found is None:
            return None
        user, session = found
        if user.disabled or session.revoked_at is not None or session.expires_at <= utcnow():
            return None
        expires = self.signer.verify(token, user.token_key)
        if expires is None:
            return None
        principal = Principal.of(user)
        self._cache.put(
            token,
            principal,
            claims.session_id,
            claims.collection_id,
            min(expires, session.expires_at.timestamp()),
            generation,
        )
        return principal, claims

    async def _user(self, db: AsyncSession, user_id: str) -> User:
        user = await repository.user_by_id(db, user_id)
        if user is None:
            raise AuthenticationFailed("Sign in first: the account no longer exists.")
        return user

    async def change_password(self, db: AsyncSession, user_id: str, old_password: str, new_password: str) -> User:
        user = await self._user(db, user_id)
        if not await verify_password(user.password_hash, old_password):
            raise AuthenticationFailed("The current password is not correct.")
        user.password_hash = await hash_password(new_password)
        await self.revoke_all(db, user)
        return user

    async def end_every_session(self, db: AsyncSession, user_id: str) -> None:
        """Sign out everywhere: a lost or shared device loses its access without a password change."""
        await self.revoke_all(db, await self._user(db, user_id))

    async def revoke_all(self, db: AsyncSession, user: User) -> None:
        """End every session of the user and void every access token already issued."""
        user.token_key = new_token_key()
        await repository.revoke_user_sessions(db, user.id, utcnow())
        await db.flush()
        self._forget(db, user.id)

    async def set_gpu_endpoint(
        self, db: AsyncSession, user_id: str, endpoint: str | None, allowlist: Sequence[str]
    ) -> tuple[User, str | None]:
        """Save (or clear) the endpoint; the user and the new signing secret, which is never shown again.
        Every change issues a new secret, so a server that knew the old one cannot pass for the new endpoint."""
        if endpoint is not None:
            check_gpu_endpoint(endpoint, allowlist)
        user = await self._user(db, user_id)
        user.gpu_endpoint, user.gpu_signing_secret = endpoint, None
        secret = self._gpu_signing.renew(user) if endpoint is not None else None
        await db.flush()
        self._forget(db, user.id)
        return user, secret

    async def admin_update(self, db: AsyncSession, admin_id: str, user_id: str, changes: dict[str, Any]) -> User:
        """Apply an admin's ``changes`` (role, disabled, monthly_budget; a budget of None restores the server's)."""
        target = await repository.user_by_id(db, user_id)
        if target is None:
            raise NotFound("No user with this id.")
        role, disabled = changes.get("role"), changes.get("disabled")
        if target.id == admin_id and (disabled or role == "user"):
            raise Conflict("An admin cannot disable or demote their own account.")
        if role is not None:
            target.role = role
        if "monthly_budget" in changes:
            target.monthly_budget = changes["monthly_budget"]
        if disabled is not None and disabled != target.disabled:
            target.disabled = disabled
            if disabled:
                await self.revoke_all(db, target)
        await db.flush()
        self._forget(db, target.id)
        return target
