"""Which key a paid job runs with, and how that key travels with the job.

A user's own key (from an open vault session named by ``X-Session-ID``) comes first: they pay. Without a
session, the operator's key (``FAL_KEY``, ``OPENAI_API_KEY``) is used when one is set. The chosen key is
sealed with the server key onto the job's row (``JobKeys``) so any worker, after any restart, can open it
while the job lasts; the worker wipes it when the job ends.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from pydantic import SecretStr

from artboard.errors import AuthenticationFailed
from artboard.vault.crypto import ServerKey
from artboard.vault.service import Provider, Vault

NAMES = {"fal": "FAL", "openai": "OpenAI"}


class ProviderKeys:
    def __init__(self, vault: Vault, server_keys: Mapping[str, SecretStr | None]) -> None:
        self._vault = vault
        self._server_keys = server_keys

    async def key_for(self, owner_id: str, provider: Provider, session_id: str | None) -> str:
        """The key to call ``provider`` with for this user, or a 401 that says how to get one."""
        name = NAMES.get(provider, provider)
        if session_id:
            key = await self._vault.provider_key(session_id, owner_id, provider)
            if key is not None:
                return key
            if self._server_key(provider) is None:
                raise AuthenticationFailed(
                    f"The key session in X-Session-ID has ended or holds no {name} key: open a new one with "
                    "POST /api/custom/auth/create-session (after POST /api/custom/tokens/setup if needed)."
                )
        if (server_key := self._server_key(provider)) is not None:
            return server_key
        raise AuthenticationFailed(
            f"This model runs with your {name} key: store it with POST /api/custom/tokens/setup, open a key "
            "session with POST /api/custom/auth/create-session and send its session_id as X-Session-ID."
        )

    def _server_key(self, provider: str) -> str | None:
        secret = self._server_keys.get(provider)
        return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None


class JobKeys:
    """Seals a key onto one job's row: only this server's secret opens it, and only for that job."""

    def __init__(self, server_key: ServerKey) -> None:
        self._key = server_key

    def seal(self, job_id: str, key: str) -> str:
        return base64.b64encode(self._key.seal(key.encode(), job_id.encode())).decode()

    def open(self, job_id: str, sealed: str) -> str:
        return self._key.open(base64.b64decode(sealed), job_id.encode()).decode()
