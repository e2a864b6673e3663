"""Request and response models of seed 001's key vault and key session routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from artboard.vault.service import Provider

# The same bounds as an account password; nothing here is ever echoed back or logged.
VaultPassword = Annotated[str, Field(min_length=8, max_length=128, description="The vault password.")]
GivenPassword = Annotated[str, Field(min_length=1, max_length=128, description="The vault password.")]
ProviderKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
SESSION_HEADER = "X-Session-ID"


class TokenSetup(BaseModel):
    fal_token: ProviderKey = Field(description="The FAL key (`Authorization: Key ...`).")
    password: VaultPassword
    openai_token: ProviderKey | None = Field(None, description="An OpenAI API key, sealed the same way.")

    def keys(self) -> dict[Provider, str]:
        keys: dict[Provider, str] = {"fal": self.fal_token}
        if self.openai_token is not None:
            keys["openai"] = self.openai_token
        return keys


class PasswordGiven(BaseModel):
    password: GivenPassword


class Done(BaseModel):
    success: bool = True
    message: str


class Verified(BaseModel):
    has_token: bool = Field(description="Keys are stored.")
    can_decrypt: bool = Field(description="The password decrypts them.")


class SessionOpened(BaseModel):
    session_id: str = Field(description=f"Send it as `{SESSION_HEADER}` with the calls that use the keys.")
    expires_at: datetime


class TokenStatusOut(BaseModel):
    has_token: bool = Field(description="Keys are stored.")
    has_active_session: bool = Field(description="A key session of the user is open.")
    requires_login: bool = Field(description="Keys are stored but no session is open: ask for the password again.")
