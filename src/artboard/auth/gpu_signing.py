"""The secret Artboard signs every call to a user's GPU server with (``kit/call_signature.py``).

It is sealed with the server key and bound to the user's id: a copy of the database alone cannot sign calls,
and a sealed secret moved onto another user's row does not open.
"""

from __future__ import annotations

import base64

from artboard.kit.call_signature import new_secret
from artboard.models import User
from artboard.vault.crypto import CannotOpen, ServerKey


class GpuSigning:
    def __init__(self, server_key: ServerKey) -> None:
        self._key = server_key

    def renew(self, user: User) -> str:
        """A new secret for ``user``, stored sealed on the row; this is the only time it is seen in clear."""
        secret = new_secret()
        user.gpu_signing_secret = base64.b64encode(self._key.seal(secret.encode(), user.id.encode())).decode()
        return secret

    def secret(self, user: User) -> str | None:
        """The user's secret in clear; None when they have none, or it was sealed under another SECRET_KEY (either
        way, setting the endpoint again issues a new one)."""
        if not user.gpu_signing_secret:
            return None
        try:
            return self._key.open(base64.b64decode(user.gpu_signing_secret), user.id.encode()).decode()
        except CannotOpen:
            return None
