"""Google OAuth 2.0: authorize (no page: acts as ``login_hint``), token (authorization_code, refresh_token,
JWT-bearer for a service account with domain-wide delegation), revoke, tokeninfo, userinfo and JWKS.

Scopes: the OpenID shorthands are granted as Google reports them — ``email`` →
``…/auth/userinfo.email``, ``profile`` → ``…/auth/userinfo.profile``, ``openid`` stays ``openid`` —
and any other scope must be a full ``https://www.googleapis.com/auth/…`` URL (else ``invalid_scope``).
Granular consent (admin ``consent``) can withhold any scope except those three identity scopes.
"""

from __future__ import annotations

import base64
import functools
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.core import (
    AuthCode,
    Grant,
    OAuthClient,
    Sandbox,
    basic_credentials,
    json_response,
    read_form,
    redirect_uri_allowed,
    route,
)
from sandbox.providers.google_common import NAME, SCOPE_PREFIX, SHORTHAND, USERINFO, oauth_error_body
from sandbox.providers.google_common import authorize as bearer_check
from sandbox.providers.google_state import ServiceAccount, State, User

ACCESS_TTL = 3599
REFRESH_TTL = 180 * 86400
ISSUER = "https://accounts.google.com"
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
KEY_ID = "sandbox-google-1"
IDENTITY = frozenset(SHORTHAND.values())


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """The process's ID-token signing key (published at ``www.googleapis.com/oauth2/v3/certs``)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    """The JWKS document holding the signing key's public half."""
    numbers = signing_key().public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "keys": [
            {
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": KEY_ID,
                "n": b64(numbers.n),
                "e": b64(numbers.e),
            }
        ]
    }


def normalize_scopes(raw: str) -> tuple[list[str], list[str]]:
    """``(granted-form scopes in request order, invalid scopes)``."""
    out: list[str] = []
    invalid: list[str] = []
    for item in raw.split():
        full = SHORTHAND.get(item, item)
        if full not in IDENTITY and not full.startswith(SCOPE_PREFIX):
            invalid.append(item)
        elif full not in out:
            out.append(full)
    return out, invalid


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return json_response({"error": error, "error_description": description}, status=status)


def _redirect(uri: str, params: dict[str, str]) -> web.Response:
    sep = "&" if "?" in uri else "?"
    return web.Response(status=302, headers={"Location": f"{uri}{sep}{urlencode(params)}"})


def id_token(
    user: User, state: State, client_id: str, scopes: frozenset[str], now: float, nonce: str | None
) -> str:
    """A signed ID token with ``sub``, ``email``, ``email_verified``, ``hd`` (and profile claims)."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "azp": client_id,
        "aud": client_id,
        "sub": user.id,
        "iat": int(now),
        "exp": int(now) + 3600,
    }
    if SHORTHAND["email"] in scopes:
        claims.update(email=user.email, email_verified=True)
    customer = state.customers.get(user.customer_id)
    if customer is not None and customer.domains:
        claims["hd"] = user.domain
    if SHORTHAND["profile"] in scopes:
        claims.update(
            name=f"{user.given_name} {user.family_name}".strip(),
            given_name=user.given_name,
            family_name=user.family_name,
        )
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode(claims, signing_key(), algorithm="RS256", headers={"kid": KEY_ID})


def _client_auth(state: State, form: dict[str, str], request: web.Request) -> OAuthClient | web.Response:
    basic = basic_credentials(request)
    client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
    client = state.clients.get(client_id)
    if client is None:
        return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
    if secret != client.client_secret:
        return _oauth_error("invalid_client", "Unauthorized", 401)
    return client


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add the OAuth routes."""

    @route("google.oauth.authorize", NAME, error_body=oauth_error_body)
    async def authorize(request: web.Request) -> web.Response:
        state: State = sandbox.state[NAME]
        q = request.query
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri_allowed(client, redirect_uri):
            return _oauth_error("redirect_uri_mismatch", f"redirect_uri not registered: {redirect_uri}")
        back = {"state": q["state"]} if "state" in q else {}
        if q.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", **back})
        requested, invalid = normalize_scopes(q.get("scope", ""))
        if invalid or not requested:
            return _oauth_error("invalid_scope", f"Some requested scopes were invalid. {{invalid={invalid}}}")
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if challenge and (method or "plain") != "S256":
            return _oauth_error("invalid_request", "Invalid code_challenge_method: only S256 is supported.")
        hint = q.get("login_hint") or state.default_login
        user = state.user(hint)
        if user is None or user.deleted:
            return _oauth_error("invalid_request", f"login_hint names no seeded user: {hint!r}")
        consent = sandbox.consents.take(NAME, user.email)
        if user.suspended or (consent is not None and consent.deny):
            return _redirect(redirect_uri, {"error": "access_denied", **back})
        granted = list(requested)
        if consent is not None and consent.grant_only is not None:
            allowed = {SHORTHAND.get(s, s) for s in consent.grant_only} | IDENTITY
            granted = [s for s in requested if s in allowed]
        key = (client.client_id, user.id)
        if q.get("include_granted_scopes") == "true":
            granted += [s for s in sorted(state.granted.get(key, set())) if s not in granted]
        code = sandbox.codes.new(
            NAME,
            prefix="4/0A",
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(granted),
            subject=user.id,
            email=user.email,
            tenant=user.customer_id,
            code_challenge=challenge,
            code_challenge_method=method,
            extra={
                "offline": q.get("access_type") == "offline",
                "prompt_consent": "consent" in q.get("prompt", "").split(),
                "nonce": q.get("nonce"),
            },
        )
        params = {**back, "code": code.code, "scope": " ".join(granted), "authuser": "0", "prompt": "consent"}
        if state.customers.get(user.customer_id):
            params["hd"] = user.domain
        return _redirect(redirect_uri, params)

    @route("google.oauth.token", NAME, error_body=oauth_error_body)
    async def token(request: web.Request) -> web.Response:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_BEARER:
            return _jwt_bearer(sandbox, state, form.get("assertion", ""))
        client = _client_auth(state, form, request)
        if isinstance(client, web.Response):
            return client
        if grant_type == "authorization_code":
            return _exchange_code(sandbox, state, client, form)
        if grant_type == "refresh_token":
            return _refresh(sandbox, state, client, form)
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    @route("google.oauth.revoke", NAME, error_body=oauth_error_body)
    async def revoke(request: web.Request) -> web.Response:
        form = await read_form(request)
        if not sandbox.tokens.revoke(form.get("token", "")):
            return _oauth_error("invalid_token", "Token expired or revoked")
        return json_response({})

    @route("google.oauth.tokeninfo", NAME, error_body=oauth_error_body)
    async def tokeninfo(request: web.Request) -> web.Response:
        form = await read_form(request)
        grant = sandbox.tokens.get(form.get("access_token", ""))
        now = sandbox.clock()
        if grant is None or grant.provider != NAME or grant.kind != "access" or not grant.active(now):
            return _oauth_error("invalid_token", "Invalid Value")
        info: dict[str, Any] = {
            "azp": grant.client_id,
            "aud": grant.client_id,
            "scope": " ".join(sorted(grant.scopes)),
            "exp": str(int(grant.expires_at)),
            "expires_in": str(int(grant.expires_at - now)),
            "access_type": "offline",
        }
        if grant.subject:
            info["sub"] = grant.subject
        if grant.email and SHORTHAND["email"] in grant.scopes:
            info.update(email=grant.email, email_verified="true")
        return json_response(info)

    @route("google.oauth.userinfo", NAME)
    async def userinfo(request: web.Request) -> web.Response:
        grant = bearer_check(
            request, sandbox, USERINFO, service="openidconnect.googleapis.com", method="userinfo"
        )
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        user = state.users_by_id.get(grant.subject or "")
        if user is None:
            return _oauth_error("invalid_request", "Invalid Credentials", 401)
        info: dict[str, Any] = {"sub": user.id}
        if SHORTHAND["profile"] in grant.scopes:
            info.update(
                name=f"{user.given_name} {user.family_name}".strip(),
                given_name=user.given_name,
                family_name=user.family_name,
            )
        if SHORTHAND["email"] in grant.scopes:
            info.update(email=user.email, email_verified=True, hd=user.domain)
        return json_response(info)

    async def certs(request: web.Request) -> web.Response:
        return json_response(jwks())

    app.router.add_get("/accounts.google.com/o/oauth2/v2/auth", authorize)
    app.router.add_post("/oauth2.googleapis.com/token", token)
    app.router.add_post("/oauth2.googleapis.com/revoke", revoke)
    app.router.add_route("*", "/oauth2.googleapis.com/tokeninfo", tokeninfo)
    app.router.add_get("/openidconnect.googleapis.com/v1/userinfo", userinfo)
    app.router.add_get("/www.googleapis.com/oauth2/v3/userinfo", userinfo)
    app.router.add_get("/www.googleapis.com/oauth2/v3/certs", certs)


def _token_response(grant: Grant, extra: dict[str, Any]) -> web.Response:
    body = {
        "access_token": grant.token,
        "expires_in": ACCESS_TTL,
        "scope": " ".join(sorted(grant.scopes)),
        "token_type": "Bearer",
    }
    body.update(extra)
    return json_response(
        body,
        headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"},
    )


def _exchange_code(sandbox: Sandbox, state: State, client: OAuthClient, form: dict[str, str]) -> web.Response:
    code: AuthCode | None = sandbox.codes.take(NAME, form.get("code"))
    if code is None or code.client_id != client.client_id:
        return _oauth_error("invalid_grant", "Bad Request")
    if form.get("redirect_uri") != code.redirect_uri:
        return _oauth_error("redirect_uri_mismatch", "Bad Request")
    if code.code_challenge and not form.get("code_verifier"):
        return _oauth_error("invalid_grant", "Missing code verifier.")
    if not code.verifier_ok(form.get("code_verifier")):
        return _oauth_error("invalid_grant", "Invalid code verifier.")
    user = state.users_by_id.get(code.subject or "")
    if user is None or user.suspended or user.deleted:
        return _oauth_error("invalid_grant", "Account has been deleted or suspended.")
    key = (client.client_id, user.id)
    scopes = frozenset(code.scopes)
    state.granted.setdefault(key, set()).update(scopes)
    extra: dict[str, Any] = {}
    family = state.refresh_family.get(key, "")
    existing = sandbox.tokens.get(family) if family else None
    if existing is None or not existing.active(sandbox.clock()):
        family = ""  # the earlier offline grant is gone: this authorization issues a new refresh token
    if code.extra.get("offline") and (not family or code.extra.get("prompt_consent")):
        refresh = sandbox.tokens.issue(
            provider=NAME,
            kind="refresh",
            client_id=client.client_id,
            scopes=scopes,
            subject=user.id,
            email=user.email,
            tenant=user.customer_id,
            ttl=REFRESH_TTL,
        )
        family = refresh.family
        state.refresh_family[key] = family
        extra["refresh_token"] = refresh.token
    access = sandbox.tokens.issue(
        provider=NAME,
        kind="access",
        client_id=client.client_id,
        scopes=scopes,
        subject=user.id,
        email=user.email,
        tenant=user.customer_id,
        ttl=ACCESS_TTL,
        family=family,
    )
    if "openid" in scopes:
        extra["id_token"] = id_token(
            user, state, client.client_id, scopes, sandbox.clock(), code.extra.get("nonce")
        )
    return _token_response(access, extra)


def _refresh(sandbox: Sandbox, state: State, client: OAuthClient, form: dict[str, str]) -> web.Response:
    refresh = sandbox.tokens.get(form.get("refresh_token", ""))
    if (
        refresh is None
        or refresh.provider != NAME
        or refresh.kind != "refresh"
        or not refresh.active(sandbox.clock())
    ):
        return _oauth_error("invalid_grant", "Token has been expired or revoked.")
    if refresh.client_id != client.client_id:
        return _oauth_error("unauthorized_client", "Unauthorized")
    scopes = refresh.scopes
    if form.get("scope"):
        narrowed, invalid = normalize_scopes(form["scope"])
        if invalid or not set(narrowed) <= scopes:
            return _oauth_error("invalid_scope", "Bad Request")
        scopes = frozenset(narrowed)
    user = state.users_by_id.get(refresh.subject or "")
    if user is None or user.suspended or user.deleted:
        return _oauth_error("invalid_grant", "Token has been expired or revoked.")
    access = sandbox.tokens.issue(
        provider=NAME,
        kind="access",
        client_id=client.client_id,
        scopes=scopes,
        subject=refresh.subject,
        email=refresh.email,
        tenant=refresh.tenant,
        ttl=ACCESS_TTL,
        family=refresh.family,
    )
    extra = {}
    if "openid" in scopes:
        extra["id_token"] = id_token(user, state, client.client_id, scopes, sandbox.clock(), None)
    return _token_response(access, extra)


def _jwt_bearer(sandbox: Sandbox, state: State, assertion: str) -> web.Response:
    """Service-account token: verify the RS256 assertion, its claims and the delegation allow-list."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "Invalid JWT: the assertion is not a JWT.")
    account: ServiceAccount | None = state.service_accounts.get(str(unverified.get("iss", "")).lower())
    if account is None:
        return _oauth_error("invalid_grant", "Invalid grant: account not found")
    try:
        claims = jwt.decode(
            assertion,
            account.public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "Invalid JWT Signature.")
    if claims.get("aud") != TOKEN_AUDIENCE:
        return _oauth_error("invalid_grant", "Invalid JWT: Failed audience check.")
    now = sandbox.clock()
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, int | float)
        or not isinstance(exp, int | float)
        or exp - iat > 3600
        or exp <= now
        or iat > now + 300
    ):
        return _oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
    requested, invalid = normalize_scopes(str(claims.get("scope", "")))
    if invalid or not requested:
        return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    subject_user = None
    if claims.get("sub"):
        subject_user = state.user(str(claims["sub"]))
        if subject_user is None or subject_user.customer_id != account.customer or subject_user.deleted:
            return _oauth_error("invalid_grant", "Invalid email or User ID")
        if not set(requested) <= account.delegated_scopes:
            return _oauth_error(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not "
                "authorized for any of the scopes requested.",
            )
        if subject_user.suspended:
            return _oauth_error("invalid_grant", "Invalid email or User ID")
    grant = sandbox.tokens.issue(
        provider=NAME,
        kind="access",
        client_id=account.client_id,
        scopes=requested,
        subject=subject_user.id if subject_user else account.client_id,
        email=subject_user.email if subject_user else account.client_email,
        tenant=account.customer,
        ttl=ACCESS_TTL,
    )
    body = {"access_token": grant.token, "expires_in": ACCESS_TTL, "token_type": "Bearer"}
    return json_response(body)
