"""Zoom OAuth: ``zoom.us/oauth/authorize``, ``/oauth/token`` (authorization_code + PKCE, refresh_token
with rotation, account_credentials for server-to-server apps) and ``/oauth/revoke``.

Zoom scopes are configured on the app, not requested in the URL: a grant carries the client's
``scopes`` (minus any withheld through admin consent). Token errors use Zoom's ``{"reason","error"}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.core import (
    OAuthClient,
    Sandbox,
    basic_credentials,
    json_response,
    read_form,
    redirect_uri_allowed,
    route,
)
from sandbox.providers.zoom_state import State

NAME = "zoom"
ACCESS_TTL = 3599
REFRESH_TTL = 90 * 86400
API_URL = "https://api.zoom.us"


def oauth_error(error: str, reason: str, status: int = 400) -> web.Response:
    """Zoom's token-endpoint error body."""
    return json_response({"reason": reason, "error": error}, status=status)


def oauth_error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Body of an injected status fault on the OAuth endpoints."""
    return {"reason": "Injected fault", "error": "server_error" if status >= 500 else "invalid_request"}, {}


def _client(state: State, request: web.Request, form: dict[str, str]) -> OAuthClient | web.Response:
    """The app authenticated by HTTP Basic (Zoom's way; form credentials are accepted too)."""
    creds = basic_credentials(request) or (form.get("client_id", ""), form.get("client_secret", ""))
    if not creds[0]:
        return oauth_error("invalid_client", "Client ID or client secret is missing.", 401)
    client = state.clients.get(creds[0])
    if client is None or client.client_secret != creds[1]:
        return oauth_error("invalid_client", "Invalid client_id or client_secret", 401)
    return client


def _token_body(
    sandbox: Sandbox,
    client: OAuthClient,
    scopes: frozenset[str],
    subject: str | None,
    email: str | None,
    account: str | None,
    refresh: bool,
) -> dict[str, Any]:
    common: dict[str, Any] = {
        "provider": NAME,
        "client_id": client.client_id,
        "scopes": scopes,
        "subject": subject,
        "email": email,
        "tenant": account,
    }
    refresh_grant = sandbox.tokens.issue(kind="refresh", ttl=REFRESH_TTL, **common) if refresh else None
    # Access tokens join the refresh token's family: revoking the refresh token revokes them too.
    family = refresh_grant.family if refresh_grant else ""
    access = sandbox.tokens.issue(kind="access", ttl=ACCESS_TTL, family=family, **common)
    body: dict[str, Any] = {"access_token": access.token, "token_type": "bearer"}
    if refresh_grant is not None:
        body["refresh_token"] = refresh_grant.token
    body.update(expires_in=ACCESS_TTL, scope=" ".join(sorted(scopes)), api_url=API_URL)
    return body


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add the Zoom OAuth routes."""

    @route("zoom.oauth.authorize", NAME, error_body=oauth_error_body)
    async def authorize(request: web.Request) -> web.Response:
        state: State = sandbox.state[NAME]
        q = request.query
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return oauth_error("invalid_client", "Invalid client_id", 400)
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri_allowed(client, redirect_uri):
            return oauth_error("invalid_request", "Redirect URI mismatch.", 400)
        back = {"state": q["state"]} if "state" in q else {}
        sep = "&" if "?" in redirect_uri else "?"
        if q.get("response_type") != "code":
            return web.Response(
                status=302,
                headers={
                    "Location": f"{redirect_uri}{sep}{urlencode({'error': 'unsupported_response_type', **back})}"
                },
            )
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if challenge and (method or "plain") != "S256":
            return oauth_error("invalid_request", "Invalid code_challenge_method: only S256 is supported.")
        user = state.user(q.get("login_hint", ""))
        if user is None:
            return oauth_error("invalid_request", f"login_hint names no seeded user: {q.get('login_hint')!r}")
        consent = sandbox.consents.take(NAME, user.email)
        if user.status != "active" or (consent is not None and consent.deny):
            return web.Response(
                status=302,
                headers={"Location": f"{redirect_uri}{sep}{urlencode({'error': 'access_denied', **back})}"},
            )
        scopes = [str(s) for s in client.extra.get("scopes", [])]
        if consent is not None and consent.grant_only is not None:
            scopes = [s for s in scopes if s in consent.grant_only]
        code = sandbox.codes.new(
            NAME,
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(scopes),
            subject=user.id,
            email=user.email,
            tenant=user.account_id,
            code_challenge=challenge,
            code_challenge_method=method,
        )
        return web.Response(
            status=302, headers={"Location": f"{redirect_uri}{sep}{urlencode({'code': code.code, **back})}"}
        )

    @route("zoom.oauth.token", NAME, error_body=oauth_error_body)
    async def token(request: web.Request) -> web.Response:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        client = _client(state, request, form)
        if isinstance(client, web.Response):
            return client
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            code = sandbox.codes.take(NAME, form.get("code"))
            if code is None or code.client_id != client.client_id:
                return oauth_error("invalid_grant", "Invalid authorization code " + form.get("code", ""))
            if form.get("redirect_uri") != code.redirect_uri:
                return oauth_error("invalid_request", "Redirect URI mismatch.")
            if not code.verifier_ok(form.get("code_verifier")):
                return oauth_error("invalid_grant", "Invalid code verifier.")
            body = _token_body(
                sandbox, client, frozenset(code.scopes), code.subject, code.email, code.tenant, True
            )
            return json_response(body)
        if grant_type == "refresh_token":
            old = sandbox.tokens.get(form.get("refresh_token", ""))
            if (
                old is None
                or old.provider != NAME
                or old.kind != "refresh"
                or not old.active(sandbox.clock())
                or old.client_id != client.client_id
            ):
                return oauth_error("invalid_grant", "Invalid Token!")
            old.revoked = True  # rotation: the old refresh token stops working, its access tokens live on
            body = _token_body(sandbox, client, old.scopes, old.subject, old.email, old.tenant, True)
            return json_response(body)
        if grant_type == "account_credentials":
            account = form.get("account_id", "")
            if client.extra.get("type") != "server_to_server":
                return oauth_error("unsupported_grant_type", "Unsupported grant type")
            if account != client.extra.get("account_id") or account not in state.accounts:
                return oauth_error("invalid_request", "Invalid account_id.")
            scopes = frozenset(str(s) for s in client.extra.get("scopes", []))
            return json_response(_token_body(sandbox, client, scopes, None, None, account, False))
        if not grant_type:
            return oauth_error("invalid_request", "Missing grant type.")
        return oauth_error("unsupported_grant_type", "Unsupported grant type")

    @route("zoom.oauth.revoke", NAME, error_body=oauth_error_body)
    async def revoke(request: web.Request) -> web.Response:
        state: State = sandbox.state[NAME]
        form = await read_form(request)
        client = _client(state, request, form)
        if isinstance(client, web.Response):
            return client
        grant = sandbox.tokens.get(form.get("token", ""))
        if (
            grant is None
            or grant.provider != NAME
            or grant.client_id != client.client_id
            or not sandbox.tokens.revoke(grant.token)
        ):
            return oauth_error("invalid_request", "Invalid Token.")
        return json_response({"status": "success"})

    app.router.add_get("/zoom.us/oauth/authorize", authorize)
    app.router.add_post("/zoom.us/oauth/token", token)
    app.router.add_post("/zoom.us/oauth/revoke", revoke)
