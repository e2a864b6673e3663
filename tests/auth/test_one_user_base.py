"""A token from any sign-in flow works on every route (one user base)."""

from __future__ import annotations

import httpx

from tests.support import PASSWORD, Account, assert_envelope, unique_email


def _tokens_from_every_flow(client: httpx.Client) -> dict[str, dict[str, str]]:
    email = unique_email("everyflow")
    client.post(
        "/api/collections/users/records", json={"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    ).raise_for_status()
    bearer = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    pocketbase = client.post(
        "/api/collections/generatio_users/auth-with-password", json={"identity": email, "password": PASSWORD}
    ).json()["token"]
    cookie = httpx.post(f"{client.base_url}/api/auth/login", json={"email": email, "password": PASSWORD}).cookies[
        "access_token"
    ]
    return {
        "bearer header": {"Authorization": f"Bearer {bearer}"},
        "bare PocketBase header": {"Authorization": pocketbase},
        "lower-case bearer": {"Authorization": f"bearer {pocketbase}"},
        "cookie": {"Cookie": f"access_token={cookie}"},
    }


def test_every_flow_works_on_every_route(client: httpx.Client) -> None:
    for flow, headers in _tokens_from_every_flow(client).items():
        me = client.get("/api/auth/me", headers=headers)
        assert me.status_code == 200, flow
        username = me.json()["username"]
        assert client.get("/api/check_auth", headers=headers).json() == {"client_id": username}, flow
        refreshed = client.post("/api/collections/users/auth-refresh", headers=headers)
        assert refreshed.status_code == 200, flow
        gpu = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": "http://gpu.example.com"}, headers=headers)
        assert gpu.status_code == 200, flow


def test_check_auth_refuses_anything_but_a_valid_user_token(client: httpx.Client, account: Account) -> None:
    for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": f"Bearer {account.access_token}x"}):
        response = client.get("/api/check_auth", headers=headers)
        body = assert_envelope(response, 403, "authorization_error")
        assert body["message"] == "Only auth records can access this endpoint"
