"""The OpenAPI document declares the bearer scheme (sign-in through `/auth/login`) on exactly the
operations that read a token, so the `/docs` Authorize button signs every such request."""

from __future__ import annotations

import httpx
import pytest

from tests.support import PASSWORD, Account

REQUIRED = [{"OAuth2PasswordBearer": []}]
OPTIONAL = [{"OAuth2PasswordBearer": []}, {}]


@pytest.mark.parametrize(
    ("method", "path", "security"),
    [
        ("get", "/api/auth/me", REQUIRED),
        ("get", "/api/admin/users", REQUIRED),
        ("post", "/api/images", REQUIRED),
        ("get", "/api/check_auth", OPTIONAL),  # answers 403 in seed 000's words without a token
        ("post", "/api/auth/logout", OPTIONAL),
        ("post", "/api/collections/{collection}/auth-refresh", OPTIONAL),  # answers PocketBase's 401 itself
        ("post", "/auth/login", None),
        ("post", "/auth/register", None),
        ("get", "/health", None),
    ],
)
def test_token_reading_operations_declare_the_bearer_scheme(
    client: httpx.Client, method: str, path: str, security: list[dict[str, list[str]]] | None
) -> None:
    document = client.get("/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/login"
    assert document["paths"][path][method].get("security") == security


def test_the_authorize_buttons_form_sign_in_gives_a_token_that_works(client: httpx.Client, account: Account) -> None:
    """What Swagger UI sends for the password flow: a form with username and password."""
    tokens = client.post("/auth/login", data={"username": account.email, "password": PASSWORD})
    assert tokens.status_code == 200
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == account.email
