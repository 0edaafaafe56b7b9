"""Google OAuth 2.0: the web-server flow, refresh, revoke, service-account tokens and ID tokens."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from providers._base import ProviderClient, with_query
from providers._parse import bad
from providers.endpoints import OAuthApp, ProviderEndpoints
from providers.error_bodies import google_error
from providers.errors import OAuthError
from providers.http import ProviderHttp
from providers.oauth import PKCE_METHOD, TokenSet, decode_jwt_unverified, parse_token_response, pkce_challenge

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_ASSERTION_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class GoogleIdentity:
    """Who an ID token names: ``sub`` is the stable key; ``hd`` the Workspace domain, if any."""

    sub: str
    email: str | None
    email_verified: bool
    hd: str | None
    name: str | None


def decode_id_token_unverified(id_token: str) -> GoogleIdentity:
    """The user an ID token from Google's token endpoint names (signature not checked; see oauth)."""
    return _identity(decode_jwt_unverified("google", id_token), "id_token")


def _identity(claims: Mapping[str, Any], source: str) -> GoogleIdentity:
    """The user named by an ID token's claims, a userinfo answer or a tokeninfo answer."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise bad("google", f"{source} without sub")
    return GoogleIdentity(
        sub=sub,
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        email_verified=claims.get("email_verified") in (True, "true"),
        hd=claims.get("hd") if isinstance(claims.get("hd"), str) else None,
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
    )


class GoogleOAuth(ProviderClient):
    """Google's authorization and token endpoints for one OAuth app."""

    provider = "google"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, app: OAuthApp | None) -> None:
        super().__init__(http, google_error)
        self._endpoints = endpoints
        self._app = app

    @property
    def app(self) -> OAuthApp:
        if self._app is None:
            raise RuntimeError("no Google OAuth app is configured")
        return self._app

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str,
        code_verifier: str,
        login_hint: str | None = None,
    ) -> str:
        """The consent URL: offline access, forced consent, exactly ``scopes`` (no incremental union)."""
        params = {
            "client_id": self.app.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(scopes),
            "state": state,
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "false",
            "code_challenge": pkce_challenge(code_verifier),
            "code_challenge_method": PKCE_METHOD,
        }
        if login_hint:
            params["login_hint"] = login_hint
        return with_query(f"{self._endpoints.google_accounts}/o/oauth2/v2/auth", params)

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code for tokens (not retried on 5xx: a code is single-use)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return await self._token(form, idempotent=False)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token; the refresh token stays the same (Google does not rotate it)."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
        }
        return await self._token(form, idempotent=True, previous_refresh_token=refresh_token)

    async def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token (a refresh token takes its access tokens along).

        Returns False when Google says the token was already invalid.
        """
        try:
            await self._send(
                "POST",
                f"{self._endpoints.google_oauth2}/revoke",
                form={"token": token},
                idempotent=True,
                token_endpoint=True,
            )
        except OAuthError as exc:
            if exc.error == "invalid_token":
                return False
            raise
        return True

    async def userinfo(self, access_token: str) -> GoogleIdentity:
        """The OpenID Connect userinfo of the token's user (needs ``openid``, ``email`` or ``profile``)."""
        body = await self._json(
            "GET", f"{self._endpoints.google_openid}/userinfo", token=access_token, idempotent=True
        )
        return _identity(body, "userinfo")

    async def tokeninfo(self, access_token: str) -> GoogleIdentity:
        """Who an access token belongs to, whatever its scopes (``email`` only with an email scope).

        Only for tokens Rendezvous itself obtained from Google's token endpoint.
        """
        body = await self._json(
            "POST",
            f"{self._endpoints.google_oauth2}/tokeninfo",
            form={"access_token": access_token},
            idempotent=True,
            secrets=(access_token,),
        )
        return _identity(body, "tokeninfo")

    async def service_account_token(
        self, key_json: str | Mapping[str, Any], subject: str | None, scopes: Sequence[str]
    ) -> TokenSet:
        """An access token for a service account acting as ``subject`` (domain-wide delegation).

        Signs an RS256 JWT-bearer assertion with the key file's private key.
        """
        key = json.loads(key_json) if isinstance(key_json, str) else dict(key_json)
        if not isinstance(key.get("client_email"), str) or not isinstance(key.get("private_key"), str):
            raise ValueError("service account key needs client_email and private_key")
        now = self.http.now()
        claims = {
            "iss": key["client_email"],
            "scope": " ".join(scopes),
            "aud": key.get("token_uri") or GOOGLE_TOKEN_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + _ASSERTION_LIFETIME).timestamp()),
        }
        if subject:
            claims["sub"] = subject
        headers = {"kid": key["private_key_id"]} if isinstance(key.get("private_key_id"), str) else None
        assertion = jwt.encode(claims, key["private_key"], algorithm="RS256", headers=headers)
        return await self._token({"grant_type": JWT_BEARER, "assertion": assertion}, idempotent=True)

    async def _token(
        self, form: dict[str, str], *, idempotent: bool, previous_refresh_token: str | None = None
    ) -> TokenSet:
        body = await self._json(
            "POST",
            f"{self._endpoints.google_oauth2}/token",
            form=form,
            idempotent=idempotent,
            token_endpoint=True,
        )
        return parse_token_response(self.provider, body, self.http.now(), previous_refresh_token)
