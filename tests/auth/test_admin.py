"""Admin routes: list and update users; everyone else gets 403."""

from __future__ import annotations

import httpx

from tests.support import Account, LiveServer, assert_envelope, make_admin, register_and_login


def test_admin_lists_users_page_by_page(server: LiveServer, client: httpx.Client) -> None:
    admin = make_admin(server, client)
    for _ in range(3):
        register_and_login(client, "listed")
    first = client.get("/api/admin/users", params={"page": 1, "per_page": 2}, headers=admin.headers)
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["page"] == 1 and page["per_page"] == 2
    assert page["total"] >= 4 and page["total_pages"] == (page["total"] + 1) // 2
    assert not {"password_hash", "token_key"} & set(page["items"][0])
    second = client.get("/api/admin/users", params={"page": 2, "per_page": 2}, headers=admin.headers).json()
    assert {u["id"] for u in page["items"]}.isdisjoint(u["id"] for u in second["items"])
    bad = client.get("/api/admin/users", params={"per_page": 0}, headers=admin.headers)
    assert_envelope(bad, 422, "validation_error")


def test_admin_promotes_a_user(server: LiveServer, client: httpx.Client) -> None:
    admin = make_admin(server, client)
    user = register_and_login(client)
    response = client.patch(f"/api/admin/users/{user.user['id']}", json={"role": "admin"}, headers=admin.headers)
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert client.get("/api/admin/users", headers=user.headers).status_code == 200


def test_admin_input_is_checked(server: LiveServer, client: httpx.Client) -> None:
    admin = make_admin(server, client)
    unknown = client.patch("/api/admin/users/doesnotexist123", json={"role": "admin"}, headers=admin.headers)
    assert_envelope(unknown, 404, "not_found")
    bad_role = client.patch(f"/api/admin/users/{admin.user['id']}", json={"role": "root"}, headers=admin.headers)
    assert_envelope(bad_role, 422, "validation_error")
    self_disable = client.patch(f"/api/admin/users/{admin.user['id']}", json={"disabled": True}, headers=admin.headers)
    assert_envelope(self_disable, 409, "conflict")


def test_non_admins_get_403(client: httpx.Client, account: Account) -> None:
    assert_envelope(client.get("/api/admin/users", headers=account.headers), 403, "authorization_error")
    patch = client.patch(f"/api/admin/users/{account.user['id']}", json={"role": "admin"}, headers=account.headers)
    assert_envelope(patch, 403, "authorization_error")
    assert_envelope(client.get("/api/admin/users"), 401, "authentication_error")
