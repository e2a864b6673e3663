"""PocketBase as the identity provider: its tokens are verified by the PocketBase server that issued them.

A PocketBase token is signed with its record's ``tokenKey`` and its collection's secret, which only PocketBase
holds, so the one way to verify it is to ask: ``POST /api/collections/{collection}/auth-refresh`` answers the
record for a valid token and 401/403/404 for any other (the fresh token it also returns is dropped). A verdict
is believed for ``ARTBOARD_POCKETBASE_CACHE_S`` (at most 60 s, never past the token's ``exp``), kept under the
token's hash in the cache of Artboard's own tokens, so disabling the user here voids it at once. The record
becomes a row of Artboard's users table (``external_id`` ``pocketbase:<collectionId>:<recordId>``), so every
route serves PocketBase users as it serves local ones. Any of the app's auth collections signs in; PocketBase's
own system collections (named with a leading ``_``, such as ``_superusers``) do not.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.auth.identity import Identity, Resolved
from artboard.auth.principal import Principal, TokenCache
from artboard.auth.service import Accounts
from artboard.db import transaction
from artboard.errors import Unavailable
from artboard.kit.tokens import TokenClaims, digest

log = logging.getLogger("artboard.auth")

TIMEOUT = httpx.Timeout(5.0)
REFUSED = frozenset({401, 403, 404})  # PocketBase's answers for a token it does not accept
DEFAULT_COLLECTION = "users"
# PocketBase ids and collection names; anything else in a claim would be a path injected into the request.
_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
_CACHE_PREFIX = "pocketbase:"
_DOWN = "The identity provider (PocketBase) cannot be reached; try again shortly."


@dataclass(frozen=True)
class _Claims:
    """What a PocketBase token says about itself, unverified: only where to ask and until when to believe."""

    collection: str
    expires_at: float


def _unverified_claims(token: str) -> _Claims | None:
    """The claims of a token shaped like PocketBase's and not yet expired, else None (not one to ask about).
    Artboard's own tokens carry a session id (``sid``); PocketBase's never do."""
    try:
        payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    collection = payload.get("collectionId") or payload.get("collectionName") or DEFAULT_COLLECTION
    expires_at = payload.get("exp")
    if (
        payload.get("type") != "auth"
        or "sid" in payload
        or not isinstance(collection, str)
        or not _NAME.fullmatch(collection)
        or not isinstance(expires_at, int | float)
        or expires_at <= time.time()
    ):
        return None
    return _Claims(collection, float(expires_at))


class PocketBaseIdentity:
    def __init__(
        self,
        base_url: str,
        local: Identity,
        accounts: Accounts,
        sessions: async_sessionmaker[AsyncSession],
        cache: TokenCache,
        *,
        cache_s: float,
    ) -> None:
        self._url = base_url.rstrip("/")
        self._local = local
        self._accounts = accounts
        self._sessions = sessions
        self._cache = cache
        self._cache_s = cache_s
        self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)

    async def resolve(self, token: str) -> Resolved | None:
        """PocketBase's verdict on a token shaped like its own, cached or asked; any other token is checked as
        Artboard's own (admins created here keep signing in)."""
        claims = _unverified_claims(token)
        if claims is None:
            return await self._local.resolve(token)
        key = _CACHE_PREFIX + digest(token)
        cached = self._cache.get(key)
        if cached is not None:
            return cached.principal, TokenClaims(cached.principal.id, cached.session_id, cached.collection_id)
        record = await self._auth_refresh(token, claims.collection)
        if record is None:
            return None
        principal = await self._mirror(record)
        if principal.disabled:
            return None
        # No Artboard session stands behind a PocketBase token: its session id is empty.
        verified = TokenClaims(principal.id, "", record["collectionId"])
        generation = self._cache.generation(principal.id)
        self._cache.put(key, principal, "", verified.collection_id, claims.expires_at, generation, self._cache_s)
        return principal, verified

    async def _auth_refresh(self, token: str, collection: str) -> dict[str, Any] | None:
        """The token's record as PocketBase has it, or None when PocketBase refuses the token."""
        try:
            response = await self._http.post(
                f"{self._url}/api/collections/{collection}/auth-refresh", headers={"Authorization": token}
            )
        except httpx.HTTPError as exc:
            log.warning("PocketBase at %s did not answer: %s", self._url, type(exc).__name__)
            raise Unavailable(_DOWN) from None
        if response.status_code in REFUSED:
            return None
        record = _record(response)
        if record is None:
            log.warning("PocketBase at %s answered auth-refresh with %s", self._url, response.status_code)
            raise Unavailable(_DOWN)
        if str(record.get("collectionName", "")).startswith("_"):
            return None  # PocketBase's own accounts (``_superusers``) administer PocketBase, not the app
        return record

    async def _mirror(self, record: dict[str, Any]) -> Principal:
        """The record as an Artboard user: made on first sight, its email and username kept in step."""
        email, username = (value if isinstance(value := record.get(k), str) else "" for k in ("email", "username"))
        external_id = f"pocketbase:{record['collectionId']}:{record['id']}"
        async with transaction(self._sessions) as db:
            user = await self._accounts.mirror(db, external_id, email, username or None)
        # Seed 000's client_id: the record's username where its collection has one, else its email.
        return Principal.of(user, username or email or record["id"])

    async def close(self) -> None:
        await self._http.aclose()


def _record(response: httpx.Response) -> dict[str, Any] | None:
    """The record of a successful auth-refresh, or None when the reply is not one."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    record = body.get("record") if isinstance(body, dict) else None
    if not isinstance(record, dict) or not all(_NAME.fullmatch(str(record.get(k, ""))) for k in ("id", "collectionId")):
        return None
    return record
