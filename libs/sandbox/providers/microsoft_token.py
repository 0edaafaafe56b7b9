"""Entra ID v2 token endpoint: ``authorization_code`` (PKCE S256), ``refresh_token`` and ``client_credentials``.

- Refresh tokens rotate: every refresh answers a new refresh token. Like Entra, the old one stays
  valid until it expires (``settings.refresh_rotation = "keep-old"``, the default); seeding
  ``{"settings": {"refresh_rotation": "invalidate-old"}}`` makes each used refresh token invalid.
- ``client_credentials`` needs ``scope=https://graph.microsoft.com/.default`` and a tenant in the path;
  the token's roles are the app permissions admin-consented in that tenant (no consent at all: the
  app is "not found in the directory", AADSTS700016).
- ``id_token`` is an RS256 JWT (``tid``, ``oid``, ``preferred_username``, ``email``, ``name``…) whose key
  is served at ``/{tenant}/discovery/v2.0/keys``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import jwt
from aiohttp import web

from sandbox.core import AuthCode, OAuthClient, Sandbox, basic_credentials, json_response, read_form, route
from sandbox.providers.microsoft_entra import (
    ACCESS_TTL,
    KID,
    OIDC_SCOPES,
    REFRESH_TTL,
    aad_error,
    identity_error_body,
    requested_scopes,
    scope_string,
    short_scope,
    signing_key,
)
from sandbox.providers.microsoft_graph import NAME
from sandbox.providers.microsoft_state import MsUser, State


# -------------------------------------------------------------------------------------------- token
def _client_auth(state: State, form: dict[str, str], request: web.Request) -> OAuthClient | web.Response:
    basic = basic_credentials(request)
    client_id = form.get("client_id") or (basic[0] if basic else "")
    secret = form.get("client_secret") or (basic[1] if basic else None)
    client = state.clients.get(client_id)
    if client is None:
        return aad_error(
            "unauthorized_client", 700016,
            f"Application with identifier '{client_id}' was not found in the directory.",
        )  # fmt: skip
    if client.extra.get("public"):
        return client
    if not secret:
        return aad_error(
            "invalid_client", 7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", 401,
        )  # fmt: skip
    if not secrets.compare_digest(secret, client.client_secret):
        return aad_error(
            "invalid_client", 7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            "value, not the client secret ID, for a secret added to app '" + client.client_id + "'.", 401,
        )  # fmt: skip
    return client


def id_token(client_id: str, user: MsUser, scopes: frozenset[str], now: float, nonce: str | None) -> str:
    """A signed v2.0 id_token for ``user``."""
    claims: dict[str, Any] = {
        "aud": client_id,
        "iss": f"https://login.microsoftonline.com/{user.tenant}/v2.0",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + 3600,
        "name": user.doc.get("displayName"),
        "oid": user.id,
        "preferred_username": user.doc["userPrincipalName"],
        "sub": base64.urlsafe_b64encode(hashlib.sha256(f"{client_id}:{user.id}".encode()).digest()[:24]).decode(),
        "tid": user.tenant,
        "ver": "2.0",
        "uti": secrets.token_urlsafe(16),
    }
    if "email" in scopes and user.doc.get("mail"):
        claims["email"] = user.doc["mail"]
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode(claims, signing_key(), algorithm="RS256", headers={"kid": KID})


def _issue(sandbox: Sandbox, client_id: str, user: MsUser, scopes: frozenset[str], family: str,
           nonce: str | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"token_type": "Bearer", "scope": scope_string(scopes), "expires_in": int(ACCESS_TTL),
                            "ext_expires_in": int(ACCESS_TTL)}  # fmt: skip
    common: dict[str, Any] = {"provider": NAME, "client_id": client_id, "scopes": scopes, "subject": user.id,
              "email": user.doc.get("mail"), "tenant": user.tenant}  # fmt: skip
    if "offline_access" in scopes:
        refresh = sandbox.tokens.issue(kind="refresh", ttl=REFRESH_TTL, family=family, **common)
        family = refresh.family
        body["refresh_token"] = refresh.token
    access = sandbox.tokens.issue(kind="access", ttl=ACCESS_TTL, family=family, **common)
    body["access_token"] = access.token
    if "openid" in scopes:
        body["id_token"] = id_token(client_id, user, scopes, sandbox.clock(), nonce)
    return {k: body[k] for k in ("token_type", "scope", "expires_in", "ext_expires_in", "access_token",
                                 "refresh_token", "id_token") if k in body}  # fmt: skip


def make_token(sandbox: Sandbox) -> Any:
    """``POST /{tenant}/oauth2/v2.0/token``."""

    @route("microsoft.token", NAME, error_body=identity_error_body)
    async def token(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        tenant_key = request.match_info["tenant"]
        if tenant_key.lower() not in ("common", "organizations") and state.tenant_of(tenant_key) is None:
            return aad_error("invalid_request", 90002, f"Tenant '{tenant_key}' not found.")
        client = _client_auth(state, form, request)
        if isinstance(client, web.Response):
            return client
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return _code_grant(sandbox, state, client, form)
        if grant_type == "refresh_token":
            return _refresh_grant(sandbox, state, client, form)
        if grant_type == "client_credentials":
            return _client_credentials(sandbox, state, client, form, tenant_key)
        return aad_error("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")

    return token


def _code_grant(sandbox: Sandbox, state: State, client: OAuthClient, form: dict[str, str]) -> web.Response:
    raw = form.get("code", "")
    code: AuthCode | None = sandbox.codes.take(NAME, raw)
    if code is None:
        if raw in state.redeemed_codes:
            return aad_error("invalid_grant", 54005,
                             "OAuth2 Authorization code was already redeemed, please retry with a new valid code.")  # fmt: skip
        return aad_error("invalid_grant", 70008,
                         "The provided authorization code or refresh token has expired due to inactivity.")  # fmt: skip
    state.redeemed_codes.add(raw)
    if code.client_id != client.client_id:
        return aad_error("invalid_grant", 70000, "The provided authorization code was issued to a different client.")
    if form.get("redirect_uri") != code.redirect_uri:
        return aad_error("invalid_grant", 70000,
                         "The provided value for the 'redirect_uri' is not valid. It must exactly match the "
                         "redirect URI used to obtain the authorization code.")  # fmt: skip
    if code.code_challenge and not form.get("code_verifier"):
        return aad_error("invalid_grant", 501481, "The Code_Verifier is missing.")
    if not code.verifier_ok(form.get("code_verifier")):
        return aad_error("invalid_grant", 501481,
                         "The Code_Verifier does not match the code_challenge supplied in the authorization request.")  # fmt: skip
    user = state.user(code.subject or "")
    if user is None:
        return aad_error("invalid_grant", 50034, "The user account does not exist in the directory.")
    return json_response(_issue(sandbox, client.client_id, user, frozenset(code.scopes), "", code.extra.get("nonce")))


def _refresh_grant(sandbox: Sandbox, state: State, client: OAuthClient, form: dict[str, str]) -> web.Response:
    grant = sandbox.tokens.get(form.get("refresh_token", ""))
    if grant is None or grant.provider != NAME or grant.kind != "refresh":
        return aad_error("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if grant.revoked:
        return aad_error("invalid_grant", 50173,
                         "The provided grant has expired due to it being revoked, a fresh auth token is needed.")  # fmt: skip
    if not grant.active(sandbox.clock()):
        return aad_error("invalid_grant", 700082, "The refresh token has expired due to inactivity.")
    if grant.client_id != client.client_id:
        return aad_error("invalid_grant", 70000, "The refresh token was issued to a different client.")
    user = state.user(grant.subject or "")
    if user is None:
        return aad_error("invalid_grant", 50034, "The user account does not exist in the directory.")
    if not user.doc.get("accountEnabled", True):
        return aad_error("invalid_grant", 50057, "The user account is disabled.")
    scopes = grant.scopes
    if form.get("scope"):
        asked = set(requested_scopes(form["scope"], client)) - set(OIDC_SCOPES)
        if not asked <= scopes:
            return aad_error("invalid_grant", 65001,
                             "The user or administrator has not consented to use the application for: "
                             + " ".join(sorted(asked - scopes)))  # fmt: skip
        scopes = frozenset(asked | (scopes & set(OIDC_SCOPES)))
    if state.settings.get("refresh_rotation") == "invalidate-old":
        grant.revoked = True
    return json_response(_issue(sandbox, client.client_id, user, scopes | {"offline_access"}, grant.family))


def _client_credentials(
    sandbox: Sandbox, state: State, client: OAuthClient, form: dict[str, str], tenant_key: str
) -> web.Response:
    tenant = state.tenant_of(tenant_key)
    if tenant is None:
        return aad_error("invalid_request", 50059,
                         "No tenant-identifying information found in either the request or implied by any provided "
                         "credentials.")  # fmt: skip
    scope = form.get("scope", "")
    if not scope.endswith("/.default") or short_scope(scope) != ".default":
        return aad_error("invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                         "scope value with /.default suffixed to the resource identifier (application ID URI).")  # fmt: skip
    roles = tenant.app_consents.get(client.client_id)
    if roles is None:
        return aad_error("unauthorized_client", 700016,
                         f"Application with identifier '{client.client_id}' was not found in the directory "
                         f"'{tenant.id}'. This can happen if the application has not been installed by the "
                         "administrator of the tenant or consented to by any user in the tenant.")  # fmt: skip
    access = sandbox.tokens.issue(provider=NAME, kind="access", client_id=client.client_id, scopes=frozenset(roles),
                                  subject=None, email=None, tenant=tenant.id, ttl=ACCESS_TTL)  # fmt: skip
    return json_response({"token_type": "Bearer", "expires_in": int(ACCESS_TTL), "ext_expires_in": int(ACCESS_TTL),
                          "access_token": access.token})  # fmt: skip

