"""Microsoft identity platform: authorize and admin-consent URLs, code, refresh, client credentials."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from providers import InvalidGrant, ProviderUnavailable, pkce_challenge
from providers.microsoft import GRAPH_DEFAULT_SCOPE, MicrosoftIdentityPlatform, decode_id_token_unverified

TENANT = "11111111-1111-1111-1111-111111111111"
TOKEN_URL = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"


@pytest.fixture
def identity(http, endpoints, apps):
    return MicrosoftIdentityPlatform(http, endpoints, apps.microsoft)


def split(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_authorization_url_uses_the_tenant_pkce_and_query_response_mode(identity):
    where, query = split(
        identity.authorization_url(
            tenant="organizations",
            redirect_uri="http://127.0.0.1:8054/oauth/callback",
            scopes=["openid", "email", "offline_access", "Calendars.ReadBasic"],
            state="st",
            code_verifier="v" * 43,
            login_hint="megan@contoso.example",
        )
    )

    assert where == "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    assert query == {
        "client_id": "ms-client",
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:8054/oauth/callback",
        "response_mode": "query",
        "scope": "openid email offline_access Calendars.ReadBasic",
        "state": "st",
        "code_challenge": pkce_challenge("v" * 43),
        "code_challenge_method": "S256",
        "login_hint": "megan@contoso.example",
    }


def test_admin_consent_url_asks_for_the_default_graph_scope(identity):
    where, query = split(identity.admin_consent_url(tenant=TENANT, redirect_uri="http://x/cb", state="st"))

    assert where == f"https://login.microsoftonline.com/{TENANT}/v2.0/adminconsent"
    assert query == {
        "client_id": "ms-client",
        "scope": GRAPH_DEFAULT_SCOPE,
        "redirect_uri": "http://x/cb",
        "state": "st",
    }


def test_admin_consent_refuses_the_common_tenant(identity):
    with pytest.raises(ValueError):
        identity.admin_consent_url(tenant="common", redirect_uri="r", state="s")


async def test_exchange_code_posts_the_form_to_the_tenant_token_endpoint(identity, upstream):
    upstream.reply(
        200,
        {
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": "openid Calendars.ReadBasic",
            "access_token": "at",
            "refresh_token": "rt1",
            "id_token": "idt",
        },
    )

    tokens = await identity.exchange_code(
        tenant=TENANT, code="c0de", redirect_uri="http://x/cb", code_verifier="ver"
    )

    assert (upstream.last.method, upstream.url()) == ("POST", TOKEN_URL)
    assert upstream.form() == {
        "client_id": "ms-client",
        "grant_type": "authorization_code",
        "code": "c0de",
        "redirect_uri": "http://x/cb",
        "code_verifier": "ver",
        "client_secret": "ms-secret-456",
    }
    assert (tokens.access_token, tokens.refresh_token, tokens.id_token) == ("at", "rt1", "idt")
    assert tokens.scopes == frozenset({"openid", "Calendars.ReadBasic"})


async def test_refresh_keeps_a_rotated_refresh_token(identity, upstream):
    upstream.reply(200, {"access_token": "at2", "expires_in": 3599, "refresh_token": "rt2"})

    tokens = await identity.refresh(tenant=TENANT, refresh_token="rt1", scopes=["Calendars.ReadBasic"])

    assert upstream.form() == {
        "client_id": "ms-client",
        "grant_type": "refresh_token",
        "refresh_token": "rt1",
        "client_secret": "ms-secret-456",
        "scope": "Calendars.ReadBasic",
    }
    assert tokens.refresh_token == "rt2"


async def test_refresh_without_rotation_keeps_the_old_refresh_token(identity, upstream):
    upstream.reply(200, {"access_token": "at2", "expires_in": 3599})

    tokens = await identity.refresh(tenant=TENANT, refresh_token="rt1")

    assert "scope" not in upstream.form()
    assert tokens.refresh_token == "rt1"


async def test_refresh_of_an_expired_grant_is_invalid_grant(identity, upstream):
    upstream.reply(
        400,
        {
            "error": "invalid_grant",
            "error_description": "AADSTS70008: expired",
            "error_codes": [70008],
            "trace_id": "t",
            "correlation_id": "c",
        },
    )

    with pytest.raises(InvalidGrant) as caught:
        await identity.refresh(tenant=TENANT, refresh_token="rt-secret-value")

    assert "rt-secret-value" not in str(caught.value) and "ms-secret-456" not in str(caught.value)


async def test_client_credentials_asks_for_the_default_scope_and_is_retried(identity, upstream):
    upstream.reply(503, {"error": "temporarily_unavailable"})
    upstream.reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "app-at"})

    tokens = await identity.client_credentials(TENANT)

    assert upstream.form() == {
        "client_id": "ms-client",
        "grant_type": "client_credentials",
        "client_secret": "ms-secret-456",
        "scope": "https://graph.microsoft.com/.default",
    }
    assert tokens.access_token == "app-at" and tokens.refresh_token is None


async def test_exchange_code_is_not_retried(identity, upstream):
    upstream.reply(503, {"error": "temporarily_unavailable"})

    with pytest.raises(ProviderUnavailable):
        await identity.exchange_code(tenant=TENANT, code="c", redirect_uri="r", code_verifier="v")

    assert len(upstream.requests) == 1


def test_id_token_names_tenant_and_object_id():
    token = jwt.encode(
        {
            "tid": TENANT,
            "oid": "oid-1",
            "sub": "pairwise",
            "preferred_username": "megan@contoso.example",
            "name": "Megan",
        },
        "k" * 32,
        algorithm="HS256",
    )

    identity = decode_id_token_unverified(token)

    assert (identity.tenant_id, identity.object_id, identity.preferred_username, identity.email) == (
        TENANT,
        "oid-1",
        "megan@contoso.example",
        None,
    )
