"""Request and response models of the account routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Password = Annotated[str, Field(min_length=8, max_length=128)]
Username = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
GpuEndpoint = Annotated[AnyHttpUrl, Field(description="http(s) URL of the user's own GPU server")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class RegisterRequest(StrictModel):
    email: EmailStr
    password: Password
    username: Username | None = None
    gpu_endpoint: GpuEndpoint | None = None


class LoginRequest(StrictModel):
    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class GpuEndpointRequest(StrictModel):
    gpu_endpoint: GpuEndpoint | None


class PasswordChangeRequest(StrictModel):
    old_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class AdminUserPatch(StrictModel):
    role: Literal["user", "admin"] | None = None
    disabled: bool | None = None
    monthly_budget: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="The user's spending cap per calendar month (UTC) in USD; 0 for none, null for the "
        "server's `ARTBOARD_MONTHLY_BUDGET`.",
    )


class UserOut(BaseModel):
    """A user as every Artboard route shows it: never the password hash or the token key."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    username: str
    role: str
    disabled: bool
    gpu_endpoint: str | None
    created: datetime
    updated: datetime


class AdminUserOut(UserOut):
    """A user as an admin sees them: with their own monthly budget (null: the server's)."""

    monthly_budget: float | None


class GpuEndpointOut(UserOut):
    """The user, with the secret their GPU server checks each call's signature with."""

    signing_secret: str | None = Field(
        description="Shown this once: every call to the endpoint carries an `Artboard-Signature` header made with "
        "it (see docs/gpu-endpoint.md). A new one on every change; null once the endpoint is cleared."
    )


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


class ClientId(BaseModel):
    client_id: str
