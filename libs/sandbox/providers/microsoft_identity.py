"""Microsoft identity platform (Entra ID v2) emulation: authorize, admin consent, OIDC metadata, routes.

- ``authorize`` never shows a page: it acts as the user named by ``login_hint`` (PKCE: S256 only;
  granular consent or denial comes from ``/_admin/consent/microsoft``; admin-only delegated
  permissions need tenant-wide admin consent or an admin user).
- ``adminconsent`` acts as the tenant's first admin (or ``login_hint``) and records the app roles.
- The token endpoint lives in :mod:`sandbox.providers.microsoft_token`.
"""

from __future__ import annotations

import html
import uuid
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.core import Sandbox, json_response, redirect_uri_allowed, route
from sandbox.providers.microsoft_entra import (
    ADMIN_ONLY_DELEGATED,
    LOGIN,
    OIDC_SCOPES,
    identity_error_body,
    jwks,
    page_error,
    requested_scopes,
    short_scope,
)
from sandbox.providers.microsoft_graph import GRAPH_RESOURCE, NAME
from sandbox.providers.microsoft_state import MsUser, State, Tenant
from sandbox.providers.microsoft_token import make_token


# ---------------------------------------------------------------------------------------- authorize
def _redirect(redirect_uri: str, params: dict[str, str | None], mode: str = "query") -> web.StreamResponse:
    clean = {k: v for k, v in params.items() if v is not None}
    if mode == "form_post":
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in clean.items()
        )
        page = (f'<html><body onload="document.forms[0].submit()"><form method="POST" '
                f'action="{html.escape(redirect_uri)}">{inputs}</form></body></html>')  # fmt: skip
        return web.Response(text=page, content_type="text/html")
    sep = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    raise web.HTTPFound(f"{redirect_uri}{sep}{urlencode(clean)}")


def _tenant_matches(state: State, key: str, user: MsUser) -> bool:
    if key.lower() in ("common", "organizations"):
        return True
    tenant = state.tenant_of(key)
    return tenant is not None and tenant.id == user.tenant


def make_authorize(sandbox: Sandbox) -> Any:
    """``GET /{tenant}/oauth2/v2.0/authorize``."""

    @route("microsoft.authorize", NAME, error_body=identity_error_body)
    async def authorize(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        q = request.query
        tenant_key = request.match_info["tenant"]
        if tenant_key.lower() not in ("common", "organizations", "consumers") and state.tenant_of(tenant_key) is None:
            return page_error(90002, f"Tenant '{tenant_key}' not found.")
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return page_error(700016, f"Application with identifier '{q.get('client_id')}' was not found in the directory.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri_allowed(client, redirect_uri):
            return page_error(
                50011, f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
                f"URIs configured for the application '{client.client_id}'.")  # fmt: skip
        mode = q.get("response_mode", "query")
        back: dict[str, str | None] = {"state": q.get("state")}

        def fail(error: str, code: int, text: str) -> web.StreamResponse:
            return _redirect(redirect_uri, {"error": error, "error_description": f"AADSTS{code}: {text}", **back}, mode)

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", 700054, "response_type 'code' is required.")
        if q.get("code_challenge") and q.get("code_challenge_method", "plain") != "S256":
            return fail("invalid_request", 70011, "Only code_challenge_method S256 is supported.")
        if tenant_key.lower() == "consumers":
            return fail("invalid_request", 9002331, "Application is configured for use by Microsoft Account users only.")
        user = state.user(q.get("login_hint", ""))
        if user is None:
            return fail("interaction_required", 50034, f"The user account {q.get('login_hint')!r} does not exist.")
        if not user.doc.get("accountEnabled", True):
            return fail("access_denied", 50057, "The user account is disabled.")
        if not _tenant_matches(state, tenant_key, user):
            return fail("access_denied", 50020, "User account from identity provider does not exist in tenant.")
        tenant = state.tenants[user.tenant]
        scopes = requested_scopes(q.get("scope"), client)
        if not [s for s in scopes if s not in OIDC_SCOPES] and "openid" not in scopes:
            return fail("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
        needs_admin = {s for s in scopes if s in ADMIN_ONLY_DELEGATED}
        if needs_admin - tenant.delegated_consents.get(client.client_id, set()) and not user.is_admin:
            return fail("consent_required", 65001,
                        f"The user or administrator has not consented to use the application with ID "
                        f"'{client.client_id}'. Admin consent is required for: {' '.join(sorted(needs_admin))}.")  # fmt: skip
        decision = sandbox.consents.take(NAME, user.doc["userPrincipalName"]) or sandbox.consents.take(
            NAME, user.doc.get("mail")
        )
        if decision is not None and decision.deny:
            return fail("access_denied", 65004, "User declined to consent to access the app.")
        if decision is not None and decision.grant_only is not None:
            allowed = {short_scope(s) for s in decision.grant_only}
            scopes = [s for s in scopes if s in OIDC_SCOPES or s in allowed]
        code = sandbox.codes.new(
            NAME, prefix="0.A", client_id=client.client_id, redirect_uri=redirect_uri, scopes=tuple(scopes),
            subject=user.id, email=user.doc.get("mail"), tenant=user.tenant,
            code_challenge=q.get("code_challenge"), code_challenge_method=q.get("code_challenge_method"),
            extra={"nonce": q.get("nonce")},
        )  # fmt: skip
        return _redirect(redirect_uri, {"code": code.code, **back, "session_state": str(uuid.uuid4())}, mode)

    return authorize


# --------------------------------------------------------------------------------------- admin consent
def make_admin_consent(sandbox: Sandbox) -> Any:
    """``GET /{tenant}/v2.0/adminconsent`` (and the older ``/{tenant}/adminconsent``)."""

    @route("microsoft.adminconsent", NAME, error_body=identity_error_body)
    async def admin_consent(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        q = request.query
        tenant_key = request.match_info["tenant"]
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return page_error(700016, f"Application with identifier '{q.get('client_id')}' was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri_allowed(client, redirect_uri):
            return page_error(50011, f"The redirect URI '{redirect_uri}' does not match the configured ones.")
        back: dict[str, str | None] = {"state": q.get("state")}

        def fail(error: str, code: int, text: str) -> web.StreamResponse:
            return _redirect(redirect_uri, {"error": error, "error_description": f"AADSTS{code}: {text}", **back})

        if tenant_key.lower() in ("common", "consumers"):
            return fail("invalid_request", 90130, "Admin consent needs a tenant id or 'organizations'.")
        hint = q.get("login_hint")
        tenant = state.tenant_of(tenant_key) if tenant_key.lower() != "organizations" else None
        admin = state.user(hint) if hint else _first_admin(state, tenant)
        if tenant is None and admin is not None:
            tenant = state.tenants[admin.tenant]
        if tenant is None:
            return page_error(90002, f"Tenant '{tenant_key}' not found.")
        if admin is None or admin.tenant != tenant.id or not admin.is_admin:
            return fail("access_denied", 90094, "The grant requires admin permission.")
        decision = sandbox.consents.take(NAME, admin.doc["userPrincipalName"]) or sandbox.consents.take(
            NAME, admin.doc.get("mail")
        )
        if decision is not None and decision.deny:
            return fail("access_denied", 65004, "User declined to consent to access the app.")
        configured = set(client.extra.get("app_permissions") or [])
        wanted = [short_scope(s) for s in (q.get("scope") or ".default").split()]
        legacy = "/v2.0/" not in request.path  # the old endpoint grants every configured permission
        roles = configured if legacy or ".default" in wanted else configured & set(wanted)
        if decision is not None and decision.grant_only is not None:
            roles &= {short_scope(s) for s in decision.grant_only}
        tenant.app_consents.setdefault(client.client_id, set()).update(roles)
        tenant.delegated_consents.setdefault(client.client_id, set()).update(
            client.extra.get("delegated_permissions") or []
        )
        scope = " ".join(GRAPH_RESOURCE + r for r in sorted(roles))
        return _redirect(redirect_uri, {"admin_consent": "True", "tenant": tenant.id, "scope": scope, **back})

    return admin_consent


def _first_admin(state: State, tenant: Tenant | None) -> MsUser | None:
    if tenant is None:
        return None
    return next((u for u in tenant.users if u.is_admin), None)


# ------------------------------------------------------------------------------------------ metadata
def make_metadata(sandbox: Sandbox) -> tuple[Any, Any]:
    """OpenID configuration and JWKS handlers."""

    @route("microsoft.openid-configuration", NAME)
    async def configuration(request: web.Request) -> web.StreamResponse:
        state: State = sandbox.state[NAME]
        key = request.match_info["tenant"]
        tenant = state.tenant_of(key)
        tid = tenant.id if tenant else "{tenantid}"
        base = f"{request.scheme}://{request.host}{LOGIN}/{key}"
        return json_response({
            "issuer": f"https://login.microsoftonline.com/{tid}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "tid",
                                 "preferred_username", "email", "nonce", "ver"],
            "code_challenge_methods_supported": ["S256"],
        })  # fmt: skip

    @route("microsoft.keys", NAME)
    async def keys(request: web.Request) -> web.StreamResponse:
        return json_response(jwks())

    return configuration, keys


def add_routes(app: web.Application, sandbox: Sandbox) -> None:
    """Register the identity platform routes."""
    app.router.add_get(f"{LOGIN}/{{tenant}}/oauth2/v2.0/authorize", make_authorize(sandbox))
    app.router.add_post(f"{LOGIN}/{{tenant}}/oauth2/v2.0/token", make_token(sandbox))
    consent = make_admin_consent(sandbox)
    app.router.add_get(f"{LOGIN}/{{tenant}}/v2.0/adminconsent", consent)
    app.router.add_get(f"{LOGIN}/{{tenant}}/adminconsent", consent)
    configuration, keys = make_metadata(sandbox)
    app.router.add_get(f"{LOGIN}/{{tenant}}/v2.0/.well-known/openid-configuration", configuration)
    app.router.add_get(f"{LOGIN}/{{tenant}}/discovery/v2.0/keys", keys)

