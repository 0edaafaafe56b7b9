"""Microsoft identity platform (Entra ID v2): authorize, admin consent, token grants, ID tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from providers._base import ProviderClient, segment, with_query
from providers._parse import bad
from providers.endpoints import OAuthApp, ProviderEndpoints
from providers.error_bodies import graph_error
from providers.http import ProviderHttp
from providers.oauth import PKCE_METHOD, TokenSet, decode_jwt_unverified, parse_token_response, pkce_challenge

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
_NOT_FOR_ADMIN_CONSENT = frozenset({"common", "consumers"})


@dataclass(frozen=True)
class MicrosoftIdentity:
    """Who an ID token names. Key users on (``tenant_id``, ``object_id``), never on email or UPN."""

    tenant_id: str
    object_id: str
    sub: str | None
    preferred_username: str | None
    email: str | None
    name: str | None


def decode_id_token_unverified(id_token: str) -> MicrosoftIdentity:
    """The user an ID token from the token endpoint names (signature not checked; see oauth)."""
    claims = decode_jwt_unverified("microsoft", id_token)
    tid, oid = claims.get("tid"), claims.get("oid")
    if not isinstance(tid, str) or not isinstance(oid, str) or not tid or not oid:
        raise bad("microsoft", "id_token without tid/oid")

    def text(key: str) -> str | None:
        value = claims.get(key)
        return value if isinstance(value, str) and value else None

    return MicrosoftIdentity(
        tenant_id=tid,
        object_id=oid,
        sub=text("sub"),
        preferred_username=text("preferred_username"),
        email=text("email"),
        name=text("name"),
    )


class MicrosoftIdentityPlatform(ProviderClient):
    """The ``login.microsoftonline.com`` endpoints for one app registration."""

    provider = "microsoft"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, app: OAuthApp | None) -> None:
        super().__init__(http, graph_error)
        self._base = endpoints.microsoft_login
        self._app = app

    @property
    def app(self) -> OAuthApp:
        if self._app is None:
            raise RuntimeError("no Microsoft app registration is configured")
        return self._app

    def authorization_url(
        self,
        *,
        tenant: str,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str,
        code_verifier: str,
        login_hint: str | None = None,
        prompt: str | None = None,
    ) -> str:
        """The sign-in and consent URL for delegated ``scopes`` (code flow, PKCE S256, query response)."""
        params = {
            "client_id": self.app.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": pkce_challenge(code_verifier),
            "code_challenge_method": PKCE_METHOD,
        }
        if login_hint:
            params["login_hint"] = login_hint
        if prompt:
            params["prompt"] = prompt
        return with_query(f"{self._base}/{segment(tenant)}/oauth2/v2.0/authorize", params)

    def admin_consent_url(
        self, *, tenant: str, redirect_uri: str, state: str, scope: str = GRAPH_DEFAULT_SCOPE
    ) -> str:
        """The URL where a tenant admin grants the app's application permissions.

        ``tenant`` is a tenant id, domain or ``organizations`` — never ``common``. The ``tenant`` the
        redirect reports back must not be trusted for authorization.
        """
        if tenant in _NOT_FOR_ADMIN_CONSENT:
            raise ValueError(f"admin consent needs a tenant or 'organizations', not {tenant!r}")
        params = {
            "client_id": self.app.client_id,
            "scope": scope,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return with_query(f"{self._base}/{segment(tenant)}/v2.0/adminconsent", params)

    async def exchange_code(
        self,
        *,
        tenant: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        scopes: Sequence[str] | None = None,
    ) -> TokenSet:
        """Trade an authorization code for tokens (not retried on 5xx: a code is single-use)."""
        form = {
            "client_id": self.app.client_id,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_secret": self.app.client_secret,
        }
        if scopes:
            form["scope"] = " ".join(scopes)
        return await self._token(tenant, form, idempotent=False)

    async def refresh(
        self, *, tenant: str, refresh_token: str, scopes: Sequence[str] | None = None
    ) -> TokenSet:
        """A new access token. Microsoft may rotate the refresh token: store ``result.refresh_token``."""
        form = {
            "client_id": self.app.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_secret": self.app.client_secret,
        }
        if scopes:
            form["scope"] = " ".join(scopes)
        return await self._token(tenant, form, idempotent=True, previous_refresh_token=refresh_token)

    async def client_credentials(self, tenant: str, scope: str = GRAPH_DEFAULT_SCOPE) -> TokenSet:
        """An app-only token for ``tenant`` carrying the admin-consented application permissions."""
        form = {
            "client_id": self.app.client_id,
            "grant_type": "client_credentials",
            "client_secret": self.app.client_secret,
            "scope": scope,
        }
        return await self._token(tenant, form, idempotent=True)

    async def _token(
        self,
        tenant: str,
        form: dict[str, str],
        *,
        idempotent: bool,
        previous_refresh_token: str | None = None,
    ) -> TokenSet:
        body = await self._json(
            "POST",
            f"{self._base}/{segment(tenant)}/oauth2/v2.0/token",
            form=form,
            idempotent=idempotent,
            token_endpoint=True,
        )
        return parse_token_response(self.provider, body, self.http.now(), previous_refresh_token)
