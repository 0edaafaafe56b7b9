"""Google OAuth 2.0 over HTTP: authorize, code exchange with PKCE, refresh, revoke, consent, JWT bearer."""

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.testing import SandboxAdmin, SandboxHandle, pkce_pair, running_sandbox, ssl_context

S = "https://www.googleapis.com/auth/"
CLIENT, SECRET = "rendezvous-google-client", "rendezvous-google-secret"
REDIRECT = "http://127.0.0.1:8054/oauth/callback"
ADA = "ada@northwind.example"
FIXTURE = json.loads(
    (Path(__file__).resolve().parents[3] / "libs/sandbox/fixtures/demo/google.json").read_text()
)
SA = FIXTURE["service_accounts"][0]
TOKEN_URL = "oauth2.googleapis.com/token"


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["google"]) as handle:
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
    """Follow the authorize step like a browser; the redirect's query parameters."""
    query = {
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "state": "st4te",
        "login_hint": ADA,
    }
    query.update(params)
    response = await http.get("/accounts.google.com/o/oauth2/v2/auth", params=query)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(query["redirect_uri"] + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def exchange(
    http: httpx.AsyncClient, code: str, verifier: str | None = None, **extra: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT,
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
    }
    if verifier:
        form["code_verifier"] = verifier
    form.update(extra)
    return await http.post(f"/{TOKEN_URL}", data=form)


async def full_flow(http: httpx.AsyncClient, scope: str, **params: str) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    back = await authorize(
        http, scope=scope, code_challenge=challenge, code_challenge_method="S256", **params
    )
    response = await exchange(http, back["code"], verifier)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_code_flow_with_pkce_grants_tokens_and_an_id_token(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    back = await authorize(
        http,
        scope=f"openid email profile {S}calendar",
        access_type="offline",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert back["state"] == "st4te" and back["hd"] == "northwind.example"
    assert back["scope"].split() == ["openid", S + "userinfo.email", S + "userinfo.profile", S + "calendar"]
    response = await exchange(http, back["code"], verifier)
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("no-cache")
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type", "refresh_token", "id_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")
    assert set(body["scope"].split()) == {
        "openid",
        S + "userinfo.email",
        S + "userinfo.profile",
        S + "calendar",
    }
    jwks = (await http.get("/www.googleapis.com/oauth2/v3/certs")).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(
        body["id_token"], key, algorithms=["RS256"], audience=CLIENT, issuer="https://accounts.google.com"
    )
    assert claims["sub"] == "103400000000000000001" and claims["email"] == ADA
    assert (
        claims["email_verified"] is True
        and claims["hd"] == "northwind.example"
        and claims["given_name"] == "Ada"
    )
    listed = await http.get(
        "/www.googleapis.com/calendar/v3/users/me/calendarList",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert listed.status_code == 200


async def test_pkce_verifier_is_checked_and_codes_are_single_use(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256", "scope": S + "calendar"}
    wrong = await exchange(
        http, (await authorize(http, **pkce))["code"], "not-the-verifier-at-all-but-long-enough-000000"
    )
    assert wrong.status_code == 400 and wrong.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid code verifier.",
    }
    missing = await exchange(http, (await authorize(http, **pkce))["code"])
    assert missing.json() == {"error": "invalid_grant", "error_description": "Missing code verifier."}
    code = (await authorize(http, **pkce))["code"]
    assert (await exchange(http, code, verifier)).status_code == 200
    reused = await exchange(http, code, verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


async def test_client_and_redirect_checks(http: httpx.AsyncClient) -> None:
    code = (await authorize(http, scope=S + "calendar"))["code"]
    mismatch = await exchange(http, code, redirect_uri="http://127.0.0.1:9999/oauth/callback")
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "redirect_uri_mismatch"
    code = (await authorize(http, scope=S + "calendar"))["code"]
    bad_secret = await exchange(http, code, client_secret="nope")
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    unknown = await exchange(http, code, client_id="someone-else")
    assert (
        unknown.status_code == 401
        and unknown.json()["error_description"] == "The OAuth client was not found."
    )
    basic = await http.post(
        f"/{TOKEN_URL}",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(CLIENT, SECRET),
    )
    assert basic.status_code == 200, "client_secret_basic works too"
    loopback = await authorize(
        http, scope=S + "calendar", redirect_uri="http://127.0.0.1:41234/oauth/callback"
    )
    assert "code" in loopback
    odd = await http.post(
        f"/{TOKEN_URL}", data={"grant_type": "password", "client_id": CLIENT, "client_secret": SECRET}
    )
    assert odd.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"redirect_uri": "https://evil.example/cb"}, 400, "redirect_uri_mismatch"),
        ({"scope": "calendar"}, 400, "invalid_scope"),
        ({"code_challenge": "abc", "code_challenge_method": "plain"}, 400, "invalid_request"),
        ({"login_hint": "ghost@northwind.example"}, 400, "invalid_request"),
    ],
)
async def test_authorize_refuses_bad_requests_without_redirecting(
    http: httpx.AsyncClient, params: dict[str, str], status: int, error: str
) -> None:
    query = {
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "login_hint": ADA,
        "scope": S + "calendar",
        **params,
    }
    response = await http.get("/accounts.google.com/o/oauth2/v2/auth", params=query)
    assert response.status_code == status and response.json()["error"] == error


async def test_granular_consent_and_denial(http: httpx.AsyncClient, admin: SandboxAdmin) -> None:
    await admin.consent("google", ADA, grant_only=[S + "calendar.events.freebusy"])
    scope = f"email profile {S}calendar.calendarlist.readonly {S}calendar.events.freebusy"
    body = await full_flow(http, scope)
    assert set(body["scope"].split()) == {
        S + "userinfo.email",
        S + "userinfo.profile",
        S + "calendar.events.freebusy",
    }
    await admin.consent("google", ADA, deny=True)
    back = await authorize(http, scope=scope)
    assert back == {"error": "access_denied", "state": "st4te"}
    assert "code" in await authorize(http, scope=scope), "a decision is used once"


async def test_suspended_users_are_denied(http: httpx.AsyncClient) -> None:
    back = await authorize(http, scope=S + "calendar", login_hint="edsger@northwind.example")
    assert back["error"] == "access_denied"


async def test_refresh_keeps_the_refresh_token_and_can_narrow_scopes(http: httpx.AsyncClient) -> None:
    first = await full_flow(http, f"openid email {S}calendar {S}calendar.readonly", access_type="offline")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": CLIENT,
        "client_secret": SECRET,
    }
    refreshed = (await http.post(f"/{TOKEN_URL}", data=form)).json()
    assert "refresh_token" not in refreshed and refreshed["access_token"] != first["access_token"]
    assert refreshed["scope"] == first["scope"] and "id_token" in refreshed
    narrowed = (await http.post(f"/{TOKEN_URL}", data={**form, "scope": S + "calendar.readonly"})).json()
    assert narrowed["scope"] == S + "calendar.readonly"
    wider = await http.post(f"/{TOKEN_URL}", data={**form, "scope": S + "gmail.readonly"})
    assert wider.json()["error"] == "invalid_scope"


async def test_refresh_token_only_on_first_offline_grant_or_prompt_consent(http: httpx.AsyncClient) -> None:
    assert "refresh_token" in await full_flow(http, S + "calendar", access_type="offline")
    assert "refresh_token" not in await full_flow(http, S + "calendar", access_type="offline")
    assert "refresh_token" in await full_flow(http, S + "calendar", access_type="offline", prompt="consent")
    assert "refresh_token" not in await full_flow(http, S + "calendar")


async def test_include_granted_scopes_returns_the_union(http: httpx.AsyncClient) -> None:
    await full_flow(http, S + "calendar.events.freebusy")
    body = await full_flow(http, S + "calendar.calendarlist.readonly", include_granted_scopes="true")
    assert set(body["scope"].split()) == {
        S + "calendar.events.freebusy",
        S + "calendar.calendarlist.readonly",
    }


async def test_revoking_a_refresh_token_revokes_its_access_tokens(http: httpx.AsyncClient) -> None:
    body = await full_flow(http, S + "calendar", access_type="offline", prompt="consent")
    api = {"Authorization": f"Bearer {body['access_token']}"}
    calendar_list = "/www.googleapis.com/calendar/v3/users/me/calendarList"
    assert (await http.get(calendar_list, headers=api)).status_code == 200
    revoked = await http.post("/oauth2.googleapis.com/revoke", data={"token": body["refresh_token"]})
    assert revoked.status_code == 200
    denied = await http.get(calendar_list, headers=api)
    assert denied.status_code == 401 and denied.json()["error"]["errors"][0]["reason"] == "authError"
    again = await http.post("/oauth2.googleapis.com/revoke", params={"token": body["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    form = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": CLIENT,
        "client_secret": SECRET,
    }
    refresh = await http.post(f"/{TOKEN_URL}", data=form)
    assert refresh.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


async def test_tokeninfo_and_userinfo(http: httpx.AsyncClient) -> None:
    body = await full_flow(http, f"openid email profile {S}calendar")
    info = (
        await http.get("/oauth2.googleapis.com/tokeninfo", params={"access_token": body["access_token"]})
    ).json()
    assert info["aud"] == CLIENT and info["email"] == ADA and S + "calendar" in info["scope"].split()
    bad = await http.get("/oauth2.googleapis.com/tokeninfo", params={"access_token": "nope"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_token"
    me = (
        await http.get(
            "/openidconnect.googleapis.com/v1/userinfo",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
    ).json()
    assert me == {"sub": "103400000000000000001", "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
                  "email": ADA, "email_verified": True, "hd": "northwind.example"}  # fmt: skip


def assertion(key: Any = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": SA["client_email"], "scope": S + "admin.directory.user.readonly", "aud": "https://oauth2.googleapis.com/token",
            "iat": now, "exp": now + 3600, "sub": "grace@northwind.example", **claims}  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(
        body, key or SA["private_key"], algorithm="RS256", headers={"kid": SA["private_key_id"]}
    )


async def jwt_bearer(http: httpx.AsyncClient, signed: str) -> httpx.Response:
    return await http.post(
        f"/{TOKEN_URL}",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": signed},
    )


async def test_service_account_impersonates_a_user_with_domain_wide_delegation(
    http: httpx.AsyncClient,
) -> None:
    response = await jwt_bearer(http, assertion())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and "refresh_token" not in body
    users = await http.get(
        "/admin.googleapis.com/admin/directory/v1/users",
        params={"customer": "my_customer"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert users.status_code == 200 and users.json()["users"]


@pytest.mark.parametrize(
    ("claims", "error", "fragment"),
    [
        ({"key": "wrong"}, "invalid_grant", "Invalid JWT Signature."),
        ({"scope": S + "gmail.readonly"}, "unauthorized_client", "not authorized for any of the scopes"),
        ({"sub": "ghost@northwind.example"}, "invalid_grant", "Invalid email or User ID"),
        ({"exp": int(time.time()) - 10, "iat": int(time.time()) - 100}, "invalid_grant", "short-lived"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant", "short-lived"),
        ({"aud": "https://example.com"}, "invalid_grant", "audience"),
        ({"iss": "nobody@x.iam.gserviceaccount.com"}, "invalid_grant", "account not found"),
        ({"scope": "calendar"}, "invalid_scope", "Invalid OAuth scope"),
    ],
)
async def test_jwt_bearer_refusals(
    http: httpx.AsyncClient, claims: dict[str, Any], error: str, fragment: str
) -> None:
    key = None
    if claims.pop("key", None):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await jwt_bearer(http, assertion(key, **claims))
    assert response.status_code == 400
    assert response.json()["error"] == error and fragment in response.json()["error_description"]


async def test_jwt_bearer_without_sub_acts_as_the_service_account(
    http: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    response = await jwt_bearer(http, assertion(sub=None, scope=S + "gmail.readonly"))
    assert response.status_code == 200
    grants = [g for g in await admin.tokens("google") if g["token"] == response.json()["access_token"]]
    assert grants[0]["email"] == SA["client_email"]
    garbage = await jwt_bearer(http, "not.a.jwt")
    assert garbage.json()["error"] == "invalid_grant"
