"""Access tokens: HS256 JWTs shaped like PocketBase's, so its JS SDK can read ``exp`` client-side.

Each token is signed with the server secret plus the user's token key (as PocketBase does), so rotating
a user's key invalidates every token of theirs without a deny list.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

USERS_COLLECTION_ID = "_pb_users_auth_"


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    session_id: str
    collection_id: str


class TokenSigner:
    def __init__(self, secret: str, algorithm: str, lifetime: timedelta) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self.lifetime = lifetime

    def issue(self, token_key: str, claims: TokenClaims, now: datetime) -> str:
        payload = {
            "id": claims.user_id,
            "sid": claims.session_id,
            "collectionId": claims.collection_id,
            "type": "auth",
            "refreshable": True,
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
        }
        return jwt.encode(payload, self._key(token_key), algorithm=self._algorithm)

    @staticmethod
    def peek(token: str) -> TokenClaims | None:
        """Read the claims without checking the signature: only to find whose key verifies it."""
        try:
            payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if payload.get("type") != "auth" or not all(isinstance(payload.get(k), str) for k in ("id", "sid")):
            return None
        return TokenClaims(payload["id"], payload["sid"], str(payload.get("collectionId", USERS_COLLECTION_ID)))

    def verify(self, token: str, token_key: str) -> int | None:
        """The token's expiry (unix time) when its signature and expiry hold, else None."""
        try:
            payload = jwt.decode(
                token, self._key(token_key), algorithms=[self._algorithm], options={"require": ["exp"]}
            )
        except jwt.PyJWTError:
            return None
        return int(payload["exp"])

    def _key(self, token_key: str) -> str:
        return self._secret + token_key


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
