"""Zoom OAuth over HTTP: authorize + code with PKCE, refresh rotation, account credentials, revoke."""

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, pkce_pair, running_sandbox, ssl_context

CLIENT, SECRET = "rendezvous-zoom-client", "rendezvous-zoom-secret"
S2S, S2S_SECRET = "rendezvous-zoom-s2s", "rendezvous-zoom-s2s-secret"
REDIRECT = "http://127.0.0.1:8054/oauth/callback"
ALEX = "alex@contoso.example"


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["zoom"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


@pytest.fixture
async def http(sbx: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sbx.base_url, verify=ssl_context()) as client:
        yield client


async def authorize(http: httpx.AsyncClient, **params: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "state": "s1",
        "login_hint": ALEX,
        **params,
    }
    response = await http.get("/zoom.us/oauth/authorize", params=query)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


async def token(
    http: httpx.AsyncClient, auth: tuple[str, str] = (CLIENT, SECRET), **form: str
) -> httpx.Response:
    return await http.post("/zoom.us/oauth/token", data=form, auth=auth)


async def code_flow(http: httpx.AsyncClient) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    back = await authorize(http, code_challenge=challenge, code_challenge_method="S256")
    assert back["state"] == "s1"
    response = await token(
        http,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_code_flow_returns_zoom_token_response(http: httpx.AsyncClient) -> None:
    body = await code_flow(http)
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", "scope", "api_url"}
    assert (
        body["token_type"] == "bearer"
        and body["expires_in"] == 3599
        and body["api_url"] == "https://api.zoom.us"
    )
    assert body["scope"].split() == ["meeting:write:admin", "user:read:admin"]
    me = await http.get(
        "/api.zoom.us/v2/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["email"] == ALEX


async def test_code_errors(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    back = await authorize(http, code_challenge=challenge, code_challenge_method="S256")
    wrong = await token(
        http,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri=REDIRECT,
        code_verifier="x" * 43,
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant" and "reason" in wrong.json()
    back = await authorize(http)
    mismatch = await token(
        http,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri="http://127.0.0.1:1/oauth/callback",
    )
    assert mismatch.json() == {"reason": "Redirect URI mismatch.", "error": "invalid_request"}
    bad_client = await token(
        http, auth=(CLIENT, "nope"), grant_type="authorization_code", code="x", redirect_uri=REDIRECT
    )
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    reused = await token(http, grant_type="authorization_code", code=back["code"], redirect_uri=REDIRECT)
    assert reused.json()["error"] == "invalid_grant"
    assert (await token(http)).json()["error"] == "invalid_request"
    assert (await token(http, grant_type="password")).json()["error"] == "unsupported_grant_type"


async def test_authorize_checks_client_redirect_and_consent(
    http: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    unknown = await http.get(
        "/zoom.us/oauth/authorize",
        params={"response_type": "code", "client_id": "x", "redirect_uri": REDIRECT},
    )
    assert unknown.status_code == 400
    evil = await http.get(
        "/zoom.us/oauth/authorize",
        params={"response_type": "code", "client_id": CLIENT, "redirect_uri": "https://evil.example/cb"},
    )
    assert evil.status_code == 400
    await admin.consent("zoom", ALEX, deny=True)
    assert await authorize(http) == {"error": "access_denied", "state": "s1"}
    await admin.consent("zoom", ALEX, grant_only=["user:read:admin"])
    back = await authorize(http)
    body = (
        await token(http, grant_type="authorization_code", code=back["code"], redirect_uri=REDIRECT)
    ).json()
    assert body["scope"] == "user:read:admin"
    assert (await authorize(http, login_hint="lee@contoso.example"))["error"] == "access_denied", (
        "inactive user"
    )


async def test_refresh_rotates_the_refresh_token(http: httpx.AsyncClient) -> None:
    first = await code_flow(http)
    second = (await token(http, grant_type="refresh_token", refresh_token=first["refresh_token"])).json()
    assert (
        second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    )
    old = await token(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    me = await http.get(
        "/api.zoom.us/v2/users/me", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert me.status_code == 200, "the old access token lives until it expires"
    third = await token(http, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200


async def test_account_credentials_give_an_account_token_without_refresh(http: httpx.AsyncClient) -> None:
    response = await token(
        http, auth=(S2S, S2S_SECRET), grant_type="account_credentials", account_id="zoom-acct-1"
    )
    body = response.json()
    assert response.status_code == 200 and "refresh_token" not in body and body["expires_in"] == 3599
    users = await http.get(
        "/api.zoom.us/v2/users", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert users.status_code == 200 and users.json()["total_records"] > 0
    me = await http.get(
        "/api.zoom.us/v2/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["email"] == "ops@contoso.example", "me is the account owner for server-to-server apps"
    wrong_account = await token(
        http, auth=(S2S, S2S_SECRET), grant_type="account_credentials", account_id="other"
    )
    assert wrong_account.status_code == 400
    user_app = await token(http, grant_type="account_credentials", account_id="zoom-acct-1")
    assert user_app.json()["error"] == "unsupported_grant_type"


async def test_revoke(http: httpx.AsyncClient) -> None:
    body = await code_flow(http)
    revoked = await http.post(
        "/zoom.us/oauth/revoke", params={"token": body["refresh_token"]}, auth=(CLIENT, SECRET)
    )
    assert revoked.json() == {"status": "success"}
    me = await http.get(
        "/api.zoom.us/v2/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 401 and me.json() == {"code": 124, "message": "Invalid access token."}
    again = await http.post(
        "/zoom.us/oauth/revoke", params={"token": body["refresh_token"]}, auth=(CLIENT, SECRET)
    )
    assert again.status_code == 400
    no_auth = await http.post("/zoom.us/oauth/revoke", params={"token": "x"})
    assert no_auth.status_code == 401
