"""Google OAuth: consent URL, code exchange, refresh, revoke, service-account tokens, ID tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers import InvalidGrant, OAuthError, ProviderResponseError, ProviderUnavailable, pkce_challenge
from providers.google import GoogleOAuth, decode_id_token_unverified

TOKEN_URL = "https://oauth2.googleapis.com/token"


@pytest.fixture
def oauth(http, endpoints, apps):
    return GoogleOAuth(http, endpoints, apps.google)


def token_answer(**extra):
    return {
        "access_token": "ya29.access",
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": "email profile",
        **extra,
    }


def test_authorization_url_asks_for_offline_access_forced_consent_and_exactly_the_scopes(oauth):
    url = oauth.authorization_url(
        redirect_uri="http://127.0.0.1:8054/oauth/callback",
        scopes=["email", "profile", "https://www.googleapis.com/auth/calendar"],
        state="st-1",
        code_verifier="v" * 43,
        login_hint="ada@northwind.example",
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": "google-client",
        "redirect_uri": "http://127.0.0.1:8054/oauth/callback",
        "response_type": "code",
        "scope": "email profile https://www.googleapis.com/auth/calendar",
        "state": "st-1",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "false",
        "code_challenge": pkce_challenge("v" * 43),
        "code_challenge_method": "S256",
        "login_hint": "ada@northwind.example",
    }
    assert "%20" in parts.query and "+" not in parts.query


async def test_exchange_code_posts_the_form_and_reads_the_tokens(oauth, upstream, now):
    upstream.reply(200, token_answer(refresh_token="1//refresh", id_token="idt"))

    tokens = await oauth.exchange_code(code="4/code", redirect_uri="http://x/cb", code_verifier="ver")

    assert upstream.last.method == "POST" and upstream.url() == TOKEN_URL
    assert upstream.form() == {
        "grant_type": "authorization_code",
        "code": "4/code",
        "client_id": "google-client",
        "client_secret": "google-secret-123",
        "redirect_uri": "http://x/cb",
        "code_verifier": "ver",
    }
    assert "authorization" not in upstream.last.headers
    assert tokens.access_token == "ya29.access" and tokens.refresh_token == "1//refresh"
    assert tokens.expires_at == now + timedelta(seconds=3599)
    assert tokens.scopes == frozenset({"email", "profile"})
    assert tokens.id_token == "idt"
    assert "ya29" not in repr(tokens) and "1//refresh" not in repr(tokens)


async def test_exchange_code_is_not_retried_because_a_code_works_once(oauth, upstream):
    upstream.reply(503, {"error": {"code": 503, "message": "x"}})

    with pytest.raises(ProviderUnavailable):
        await oauth.exchange_code(code="c", redirect_uri="r", code_verifier="v")

    assert len(upstream.requests) == 1


async def test_refresh_keeps_the_refresh_token_google_does_not_rotate(oauth, upstream):
    upstream.reply(503, {"error": {"code": 503, "message": "x"}})
    upstream.reply(200, token_answer())

    tokens = await oauth.refresh("1//refresh")

    assert upstream.form() == {
        "grant_type": "refresh_token",
        "refresh_token": "1//refresh",
        "client_id": "google-client",
        "client_secret": "google-secret-123",
    }
    assert len(upstream.requests) == 2
    assert tokens.refresh_token == "1//refresh"


async def test_refresh_of_a_revoked_grant_raises_invalid_grant_without_the_token(oauth, upstream):
    upstream.reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})

    with pytest.raises(InvalidGrant) as caught:
        await oauth.refresh("1//refresh-secret")

    assert caught.value.description == "Token has been expired or revoked."
    assert "1//refresh-secret" not in str(caught.value) + repr(caught.value)
    assert "google-secret-123" not in str(caught.value)


async def test_revoke_posts_the_token_in_the_body(oauth, upstream):
    upstream.reply(200, {})

    assert await oauth.revoke("1//refresh") is True

    assert upstream.url() == "https://oauth2.googleapis.com/revoke"
    assert upstream.form() == {"token": "1//refresh"}
    assert upstream.last.url.query == b""


async def test_revoking_an_invalid_token_reports_false(oauth, upstream):
    upstream.reply(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})

    assert await oauth.revoke("gone") is False


async def test_revoke_other_errors_raise(oauth, upstream):
    upstream.reply(400, {"error": "invalid_request"})

    with pytest.raises(OAuthError):
        await oauth.revoke("x")


async def test_userinfo_names_the_tokens_user(oauth, upstream):
    upstream.reply(200, {"sub": "1034", "email": "ada@northwind.example", "email_verified": True, "hd": "northwind.example"})

    who = await oauth.userinfo("ya29.user")

    assert (upstream.last.method, upstream.url()) == ("GET", "https://openidconnect.googleapis.com/v1/userinfo")
    assert upstream.last.headers["authorization"] == "Bearer ya29.user"
    assert (who.sub, who.email, who.email_verified, who.hd) == ("1034", "ada@northwind.example", True, "northwind.example")


async def test_tokeninfo_posts_the_token_and_reads_who_it_belongs_to(oauth, upstream):
    upstream.reply(200, {"sub": "1035", "aud": "google-client", "scope": "https://www.googleapis.com/auth/calendar"})

    who = await oauth.tokeninfo("ya29.user")

    assert (upstream.last.method, upstream.url()) == ("POST", "https://oauth2.googleapis.com/tokeninfo")
    assert upstream.form() == {"access_token": "ya29.user"}
    assert (who.sub, who.email) == ("1035", None)


async def test_tokeninfo_of_a_dead_token_is_an_oauth_error_without_the_token(oauth, upstream):
    upstream.reply(400, {"error": "invalid_token", "error_description": "Invalid Value ya29.dead-token"})

    with pytest.raises(OAuthError) as caught:
        await oauth.tokeninfo("ya29.dead-token")

    assert caught.value.error == "invalid_token"
    assert "ya29.dead-token" not in str(caught.value) + str(caught.value.description)


async def test_an_answer_naming_no_user_is_a_response_error(oauth, upstream):
    upstream.reply(200, {"email": "ada@northwind.example"})

    with pytest.raises(ProviderResponseError):
        await oauth.userinfo("ya29.user")


async def test_service_account_token_signs_a_jwt_bearer_assertion_for_the_subject(oauth, upstream, now):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_json = json.dumps(
        {
            "type": "service_account",
            "client_email": "sync@project.iam.gserviceaccount.com",
            "private_key_id": "kid-1",
            "private_key": pem,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )
    upstream.reply(200, {"access_token": "ya29.sa", "expires_in": 3600, "token_type": "Bearer"})

    tokens = await oauth.service_account_token(
        key_json, "grace@northwind.example", ["https://www.googleapis.com/auth/admin.directory.user.readonly"]
    )

    form = upstream.form()
    assert upstream.url() == TOKEN_URL
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert jwt.get_unverified_header(form["assertion"])["kid"] == "kid-1"
    claims = jwt.decode(
        form["assertion"],
        key.public_key(),
        algorithms=["RS256"],
        audience=TOKEN_URL,
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": "sync@project.iam.gserviceaccount.com",
        "sub": "grace@northwind.example",
        "scope": "https://www.googleapis.com/auth/admin.directory.user.readonly",
        "aud": TOKEN_URL,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 3600,
    }
    assert tokens.access_token == "ya29.sa" and tokens.refresh_token is None and tokens.scopes is None


async def test_service_account_key_without_a_private_key_is_refused(oauth):
    with pytest.raises(ValueError, match="private_key"):
        await oauth.service_account_token({"client_email": "x"}, None, ["s"])


def test_id_token_claims_name_the_user():
    token = jwt.encode(
        {"sub": "1034", "email": "ada@northwind.example", "email_verified": True, "hd": "northwind.example"},
        "k" * 32,
        algorithm="HS256",
    )

    identity = decode_id_token_unverified(token)

    assert (identity.sub, identity.email, identity.email_verified, identity.hd) == (
        "1034",
        "ada@northwind.example",
        True,
        "northwind.example",
    )


def test_an_unreadable_id_token_is_a_response_error():
    with pytest.raises(ProviderResponseError):
        decode_id_token_unverified("not-a-jwt")


def test_authorization_url_without_an_app_is_a_configuration_error(http, endpoints):
    with pytest.raises(RuntimeError, match="no Google OAuth app"):
        GoogleOAuth(http, endpoints, None).authorization_url(
            redirect_uri="r", scopes=[], state="s", code_verifier="v"
        )
