"""Contract tests for the emulated Microsoft identity platform (authorize, token, admin consent) over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, pkce_pair, running_sandbox

CONTOSO = "11111111-1111-1111-1111-111111111111"
FABRIKAM = "22222222-2222-2222-2222-222222222222"
CLIENT, SECRET = "rendezvous-ms-client", "rendezvous-ms-secret"
REDIRECT = "http://127.0.0.1:8054/oauth/callback"
ADELE = "aaaaaaaa-0000-4000-8000-000000000002"
SCOPES = "openid profile email offline_access https://graph.microsoft.com/Calendars.ReadWrite"


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["microsoft"]) as handle:
        yield handle


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


def login(sbx: SandboxHandle, tenant: str = "common") -> str:
    return sbx.url(f"login.microsoftonline.com/{tenant}")


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def authorize(
    http: httpx.AsyncClient, sbx: SandboxHandle, user: str = "adele@contoso.example", scope: str = SCOPES,
    challenge: str | None = None, tenant: str = "common",
) -> httpx.Response:  # fmt: skip
    params = {"client_id": CLIENT, "response_type": "code", "redirect_uri": REDIRECT, "scope": scope,
              "state": "st-1", "login_hint": user}  # fmt: skip
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return await http.get(f"{login(sbx, tenant)}/oauth2/v2.0/authorize", params=params)


async def token(http: httpx.AsyncClient, sbx: SandboxHandle, tenant: str = "common", **form: str) -> httpx.Response:
    return await http.post(f"{login(sbx, tenant)}/oauth2/v2.0/token",
                           data={"client_id": CLIENT, "client_secret": SECRET, **form})  # fmt: skip


async def code_flow(http: httpx.AsyncClient, sbx: SandboxHandle, **kw: Any) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code = query_of(await authorize(http, sbx, challenge=challenge, **kw))["code"]
    response = await token(http, sbx, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                           code_verifier=verifier)  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_aad_error(response: httpx.Response, error: str, code: int, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


async def test_code_flow_returns_graph_scopes_and_a_signed_id_token(http, sbx):
    body = await code_flow(http, sbx)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["scope"].split() == ["https://graph.microsoft.com/Calendars.ReadWrite", "openid", "profile", "email",
                                     "offline_access"]  # fmt: skip
    assert body["refresh_token"] and body["access_token"]
    keys = (await http.get(f"{login(sbx, CONTOSO)}/discovery/v2.0/keys")).json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(body["id_token"], key, algorithms=["RS256"], audience=CLIENT)
    assert claims["tid"] == CONTOSO and claims["oid"] == ADELE
    assert claims["preferred_username"] == "adele@contoso.example" and claims["email"] == "adele@contoso.example"
    assert claims["iss"] == f"https://login.microsoftonline.com/{CONTOSO}/v2.0"


async def test_authorize_redirect_carries_code_state_and_session(http, sbx):
    params = query_of(await authorize(http, sbx))
    assert params["state"] == "st-1" and params["code"].startswith("0.A") and params["session_state"]


async def test_unregistered_redirect_uri_is_not_redirected_to(http, sbx):
    response = await http.get(f"{login(sbx)}/oauth2/v2.0/authorize", params={
        "client_id": CLIENT, "response_type": "code", "redirect_uri": "https://evil.example/cb", "scope": SCOPES,
        "login_hint": "adele@contoso.example"})  # fmt: skip
    assert_aad_error(response, "invalid_request", 50011)


async def test_user_of_another_tenant_is_refused_on_a_tenant_path(http, sbx):
    params = query_of(await authorize(http, sbx, user="ben@fabrikam.example", tenant=CONTOSO))
    assert params["error"] == "access_denied" and params["error_description"].startswith("AADSTS50020")


async def test_code_is_single_use_and_pkce_is_checked(http, sbx):
    verifier, challenge = pkce_pair()
    code = query_of(await authorize(http, sbx, challenge=challenge))["code"]
    bad = await token(http, sbx, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                      code_verifier="wrong-verifier-wrong-verifier-wrong-verifier-x")  # fmt: skip
    assert_aad_error(bad, "invalid_grant", 501481)
    again = await token(http, sbx, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                        code_verifier=verifier)  # fmt: skip
    assert_aad_error(again, "invalid_grant", 54005)


async def test_wrong_secret_is_invalid_client(http, sbx):
    response = await http.post(f"{login(sbx)}/oauth2/v2.0/token", data={
        "client_id": CLIENT, "client_secret": "nope", "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default"})  # fmt: skip
    assert_aad_error(response, "invalid_client", 7000215, status=401)


async def test_refresh_rotates_and_keeps_the_old_token_valid_by_default(http, sbx):
    first = (await code_flow(http, sbx))["refresh_token"]
    second = await token(http, sbx, grant_type="refresh_token", refresh_token=first)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first and "id_token" in second.json()
    again = await token(http, sbx, grant_type="refresh_token", refresh_token=first)
    assert again.status_code == 200


async def test_refresh_rotation_can_invalidate_the_old_token(http, sbx, admin):
    await admin.seed("microsoft", {"settings": {"refresh_rotation": "invalidate-old"}})
    first = (await code_flow(http, sbx))["refresh_token"]
    second = await token(http, sbx, grant_type="refresh_token", refresh_token=first)
    assert second.status_code == 200
    assert_aad_error(await token(http, sbx, grant_type="refresh_token", refresh_token=first), "invalid_grant", 50173)
    third = await token(http, sbx, grant_type="refresh_token", refresh_token=second.json()["refresh_token"])
    assert third.status_code == 200


async def test_refresh_for_a_disabled_user_is_invalid_grant(http, sbx, admin):
    refresh = (await code_flow(http, sbx))["refresh_token"]
    await admin.update_user("microsoft", ADELE, accountEnabled=False)
    assert_aad_error(await token(http, sbx, grant_type="refresh_token", refresh_token=refresh), "invalid_grant", 50057)


async def test_refresh_cannot_widen_scopes(http, sbx):
    refresh = (await code_flow(http, sbx))["refresh_token"]
    response = await token(http, sbx, grant_type="refresh_token", refresh_token=refresh,
                           scope="https://graph.microsoft.com/User.Read.All")  # fmt: skip
    assert_aad_error(response, "invalid_grant", 65001)


async def test_granular_consent_and_denial_through_the_admin_api(http, sbx, admin):
    await admin.consent("microsoft", "adele@contoso.example", grant_only=["Calendars.ReadBasic"])
    body = await code_flow(http, sbx, scope=SCOPES + " https://graph.microsoft.com/Calendars.ReadBasic")
    assert "https://graph.microsoft.com/Calendars.ReadWrite" not in body["scope"].split()
    assert "https://graph.microsoft.com/Calendars.ReadBasic" in body["scope"].split()
    await admin.consent("microsoft", "adele@contoso.example", deny=True)
    params = query_of(await authorize(http, sbx))
    assert params["error"] == "access_denied" and params["error_description"].startswith("AADSTS65004")
    assert params["state"] == "st-1"


async def test_admin_only_scope_needs_tenant_consent_for_a_non_admin(http, sbx):
    params = query_of(await authorize(http, sbx, user="ben@fabrikam.example",
                                      scope="openid https://graph.microsoft.com/User.Read.All"))  # fmt: skip
    assert params["error"] == "consent_required"


async def test_client_credentials_needs_default_scope_and_tenant_consent(http, sbx):
    bad_scope = await token(http, sbx, CONTOSO, grant_type="client_credentials",
                            scope="https://graph.microsoft.com/User.Read.All")  # fmt: skip
    assert_aad_error(bad_scope, "invalid_scope", 1002012)
    unconsented = await token(http, sbx, FABRIKAM, grant_type="client_credentials",
                              scope="https://graph.microsoft.com/.default")  # fmt: skip
    assert_aad_error(unconsented, "unauthorized_client", 700016)
    common = await token(http, sbx, "common", grant_type="client_credentials", scope="https://graph.microsoft.com/.default")
    assert_aad_error(common, "invalid_request", 50059)


async def test_client_credentials_token_carries_the_consented_roles(http, sbx, admin):
    response = await token(http, sbx, CONTOSO, grant_type="client_credentials", scope="https://graph.microsoft.com/.default")
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    grant = next(g for g in await admin.tokens("microsoft") if g["token"] == body["access_token"])
    assert grant["subject"] is None and grant["tenant"] == CONTOSO
    assert "User.Read.All" in grant["scopes"] and "Calendars.ReadBasic.All" in grant["scopes"]


async def test_admin_consent_redirects_with_tenant_and_enables_app_tokens(http, sbx, admin):
    await admin.consent("microsoft", "admin@fabrikam.example", grant_only=["User.Read.All", "Calendars.ReadBasic.All"])
    response = await http.get(f"{login(sbx, FABRIKAM)}/v2.0/adminconsent", params={
        "client_id": CLIENT, "scope": "https://graph.microsoft.com/.default", "redirect_uri": REDIRECT, "state": "ac"})  # fmt: skip
    params = query_of(response)
    assert params["admin_consent"] == "True" and params["tenant"] == FABRIKAM and params["state"] == "ac"
    assert set(params["scope"].split()) == {"https://graph.microsoft.com/User.Read.All",
                                            "https://graph.microsoft.com/Calendars.ReadBasic.All"}  # fmt: skip
    app = await token(http, sbx, FABRIKAM, grant_type="client_credentials", scope="https://graph.microsoft.com/.default")
    assert app.status_code == 200
    grant = next(g for g in await admin.tokens("microsoft") if g["token"] == app.json()["access_token"])
    assert sorted(grant["scopes"]) == ["Calendars.ReadBasic.All", "User.Read.All"]


async def test_admin_consent_denied_and_non_admin(http, sbx, admin):
    await admin.consent("microsoft", "admin@fabrikam.example", deny=True)
    params = query_of(await http.get(f"{login(sbx, FABRIKAM)}/v2.0/adminconsent", params={
        "client_id": CLIENT, "redirect_uri": REDIRECT, "state": "d"}))  # fmt: skip
    assert params["error"] == "access_denied" and params["error_description"].startswith("AADSTS65004")
    params = query_of(await http.get(f"{login(sbx, FABRIKAM)}/v2.0/adminconsent", params={
        "client_id": CLIENT, "redirect_uri": REDIRECT, "state": "d", "login_hint": "ben@fabrikam.example"}))  # fmt: skip
    assert params["error"] == "access_denied"


async def test_openid_configuration_points_at_the_sandbox(http, sbx):
    conf = (await http.get(f"{login(sbx, CONTOSO)}/v2.0/.well-known/openid-configuration")).json()
    assert conf["token_endpoint"] == f"{login(sbx, CONTOSO)}/oauth2/v2.0/token"
    assert conf["issuer"] == f"https://login.microsoftonline.com/{CONTOSO}/v2.0"


async def test_token_endpoint_fault_uses_the_identity_error_shape(http, sbx, admin):
    await admin.add_fault(route="microsoft.token", kind="status", status=503, retry_after=2)
    response = await token(http, sbx, CONTOSO, grant_type="client_credentials", scope="https://graph.microsoft.com/.default")
    assert_aad_error(response, "temporarily_unavailable", 90033, status=503)
    assert response.headers["Retry-After"] == "2"
