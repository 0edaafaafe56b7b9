"""The identity service's door to the providers: OAuth URLs, token grants, revocation and mailbox
checks, all through ``libs/providers`` (one ``ProviderHttp``: timeouts, bounded retries).

Failures become what the use cases understand: a refusal at a token endpoint (HTTP 4xx) is
:class:`~services.identity.ports.ProviderRefused`; a 5xx, timeout or throttling there is UNAVAILABLE
(TOKEN_ENDPOINT_FAILED); elsewhere UNAVAILABLE (PROVIDER_UNAVAILABLE).

Who a token belongs to: Google — the ID token's ``sub`` when one came, else the userinfo endpoint
(the ``email``/``profile`` scopes allow it), else tokeninfo; Microsoft — ``tid`` and ``oid`` from the ID
token, else from the access token; Zoom — ``GET /users/me``; Webex — ``GET /people/me``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from kit.errors import FailedPrecondition, InvalidArgument, Unavailable
from providers import (
    OAuthApp,
    OAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    Providers,
    ProviderUnavailable,
    TokenSet,
    Zoom,
)
from providers.google import decode_id_token_unverified as google_id_token
from providers.oauth import decode_jwt_unverified
from services.identity.domain.model import ProviderIdentity, ServiceKey, TokenGrant
from services.identity.domain.scopes import GOOGLE_AUTH, GrantType, Provider, ScopeRequirement
from services.identity.ports import ProviderRefused

log = logging.getLogger("rendezvous.identity.providers")

T = TypeVar("T")
DEFAULT_LIFETIME = timedelta(hours=1)  # when a token response does not say
_GENERIC_TENANTS = frozenset({"organizations", "common", "consumers"})
_GOOGLE_USERINFO_SCOPES = frozenset({"email", "profile", GOOGLE_AUTH + "userinfo.email", GOOGLE_AUTH + "userinfo.profile"})


class ProviderGateway:
    """Implements the ``OAuthProviders`` and ``Mailboxes`` ports."""

    def __init__(self, providers: Providers, *, redirect_uri: str, microsoft_tenant: str) -> None:
        self._p = providers
        self._redirect_uri = redirect_uri
        self._ms_tenant = microsoft_tenant

    # ---------------------------------------------------------------------------- authorization URLs
    def authorization_url(
        self, requirement: ScopeRequirement, *, state: str, code_verifier: str, login_hint: str
    ) -> str:
        scopes = requirement.wire_scopes()
        hint = login_hint or None
        match requirement.provider:
            case Provider.GOOGLE:
                return self._p.google.oauth.authorization_url(
                    redirect_uri=self._redirect_uri, scopes=scopes, state=state, code_verifier=code_verifier,
                    login_hint=hint,
                )  # fmt: skip
            case Provider.MICROSOFT if requirement.grant is GrantType.ADMIN_CONSENT:
                url = self._p.microsoft.identity.admin_consent_url(
                    tenant=self._ms_tenant, redirect_uri=self._redirect_uri, state=state
                )
                return _with(url, login_hint=hint)  # picks the administrator's account on the sign-in page
            case Provider.MICROSOFT:
                return self._p.microsoft.identity.authorization_url(
                    tenant=self._ms_tenant, redirect_uri=self._redirect_uri, scopes=scopes, state=state,
                    code_verifier=code_verifier, login_hint=hint,
                )  # fmt: skip
            case Provider.ZOOM:
                # Zoom takes an app's scopes from its registration; they are named here too so the request
                # states exactly what it is for (and the granted scopes are checked on return).
                url = self._p.zoom.authorization_url(
                    redirect_uri=self._redirect_uri, state=state, code_verifier=code_verifier
                )
                return _with(url, scope=" ".join(scopes))
            case Provider.WEBEX:
                return self._p.webex.authorization_url(
                    redirect_uri=self._redirect_uri, scopes=scopes, state=state, code_verifier=code_verifier
                )
        raise InvalidArgument.field("provider", f"{requirement.provider.value} has no browser authorization")

    # ------------------------------------------------------------------------------------ token grants
    async def exchange_code(self, provider: Provider, *, code: str, code_verifier: str) -> TokenGrant:
        redirect = self._redirect_uri
        match provider:
            case Provider.GOOGLE:
                tokens = await _token_call(provider, self._p.google.oauth.exchange_code(
                    code=code, redirect_uri=redirect, code_verifier=code_verifier))  # fmt: skip
            case Provider.MICROSOFT:
                tokens = await _token_call(provider, self._p.microsoft.identity.exchange_code(
                    tenant=self._ms_tenant, code=code, redirect_uri=redirect, code_verifier=code_verifier))  # fmt: skip
            case Provider.ZOOM:
                tokens = await _token_call(provider, self._p.zoom.exchange_code(
                    code=code, redirect_uri=redirect, code_verifier=code_verifier))  # fmt: skip
            case Provider.WEBEX:
                tokens = await _token_call(provider, self._p.webex.exchange_code(
                    code=code, redirect_uri=redirect, code_verifier=code_verifier))  # fmt: skip
            case _:
                raise InvalidArgument.field("provider", f"{provider.value} has no authorization code flow")
        identity = await _api_call(provider, self._identify(provider, tokens))
        return self._grant(tokens, identity)

    async def refresh(self, provider: Provider, *, refresh_token: str, tenant_id: str) -> TokenGrant:
        match provider:
            case Provider.GOOGLE:
                tokens = await _token_call(provider, self._p.google.oauth.refresh(refresh_token))
            case Provider.MICROSOFT:
                tenant = tenant_id or self._ms_tenant
                tokens = await _token_call(
                    provider, self._p.microsoft.identity.refresh(tenant=tenant, refresh_token=refresh_token)
                )
            case Provider.ZOOM:
                tokens = await _token_call(provider, self._p.zoom.refresh(refresh_token))
            case Provider.WEBEX:
                tokens = await _token_call(provider, self._p.webex.refresh(refresh_token))
            case _:
                raise ProviderRefused(provider, "unsupported_grant_type", "no refresh tokens")
        return self._grant(tokens, ProviderIdentity())

    async def app_token(self, tenant: str) -> TokenGrant:
        """Client credentials; the tenant is the configured one, else the one the consent redirect named."""
        target = self._ms_tenant if self._ms_tenant.lower() not in _GENERIC_TENANTS else tenant
        if not target:
            raise InvalidArgument.field("tenant", "is required to complete an admin consent")
        tokens = await _token_call(Provider.MICROSOFT, self._p.microsoft.identity.client_credentials(target))
        claims = _jwt_claims(tokens.access_token)
        roles = claims.get("roles")
        scopes = frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else None
        tid = str(claims.get("tid") or target)
        return self._grant(tokens, ProviderIdentity(tenant_id=tid), scopes=scopes)

    async def service_account_token(self, key_json: str, subject: str, scopes: tuple[str, ...]) -> TokenGrant:
        tokens = await _token_call(
            Provider.GOOGLE, self._p.google.oauth.service_account_token(key_json, subject, scopes)
        )
        return self._grant(tokens, ProviderIdentity(email=subject))

    async def zoom_account_token(self, account_id: str, client_id: str, client_secret: str) -> TokenGrant:
        tokens = await _token_call(Provider.ZOOM, self._zoom(client_id, client_secret).account_token(account_id))
        return self._grant(tokens, ProviderIdentity(tenant_id=account_id))

    async def successfactors_token(
        self, api_server_url: str, company_id: str, client_id: str, *, assertion: str = "", user_id: str = "",
        private_key: str = "",
    ) -> TokenGrant:
        if not assertion:  # a fresh assertion for every token
            assertion = await _token_call(
                Provider.SUCCESSFACTORS,
                self._p.successfactors.idp_assertion(api_server_url, client_id, user_id, private_key),
            )
        tokens = await _token_call(
            Provider.SUCCESSFACTORS,
            self._p.successfactors.saml_bearer_token(api_server_url, company_id, client_id, assertion),
        )
        return self._grant(tokens, ProviderIdentity(tenant_id=company_id))

    async def revoke(self, provider: Provider, token: str, service: Mapping[str, str]) -> bool:
        if provider is Provider.GOOGLE:
            await _token_call(provider, self._p.google.oauth.revoke(token))
            return True
        if provider is Provider.ZOOM:
            zoom = self._zoom(service.get(ServiceKey.ZOOM_CLIENT_ID, ""), service.get(ServiceKey.ZOOM_CLIENT_SECRET, ""))
            await _token_call(provider, zoom.revoke(token))
            return True
        # Microsoft, Webex and SuccessFactors offer no endpoint revoking one app's tokens.
        return False

    # --------------------------------------------------------------------------------- mailbox checks
    async def exists(self, provider: Provider, access_token: str, *, asking_as: str, email: str) -> bool:
        start = self._p.http.now()
        end = start + timedelta(hours=1)
        if provider is Provider.GOOGLE:
            answer = (await _api_call(provider, self._p.google.calendar.free_busy(access_token, [email], start, end)))
            errors = answer[email].errors
            if any(e.reason == "notFound" for e in errors):
                return False
            if errors:
                raise _unavailable(provider, f"free/busy of the mailbox failed: {errors[0].reason}")
            return True
        if provider is Provider.MICROSOFT:
            schedules = await _api_call(
                provider, self._p.microsoft.calendar.get_schedule(access_token, asking_as, [email], start, end)
            )
            error = schedules[email].error
            if error is not None and error.code in ("providerUnavailable", "providerRateLimited"):
                raise _unavailable(provider, f"getSchedule failed: {error.code}")
            return error is None
        raise InvalidArgument.field("provider", f"{provider.value} is not a calendar provider")

    # --------------------------------------------------------------------------------------- helpers
    def _grant(
        self, tokens: TokenSet, identity: ProviderIdentity, *, scopes: frozenset[str] | None = None
    ) -> TokenGrant:
        return TokenGrant(
            access_token=tokens.access_token,
            expires_at=tokens.expires_at or self._p.http.now() + DEFAULT_LIFETIME,
            scopes=scopes if scopes is not None else tokens.scopes,
            token_type=tokens.token_type or "Bearer",
            refresh_token=tokens.refresh_token or "",
            identity=identity,
        )

    async def _identify(self, provider: Provider, tokens: TokenSet) -> ProviderIdentity:
        if provider is Provider.GOOGLE:
            if tokens.id_token:
                who = google_id_token(tokens.id_token)
                return ProviderIdentity("", who.sub, (who.email or "").lower())
            if tokens.scopes is None or tokens.scopes & _GOOGLE_USERINFO_SCOPES:
                who = await self._p.google.oauth.userinfo(tokens.access_token)
            else:
                who = await self._p.google.oauth.tokeninfo(tokens.access_token)
            return ProviderIdentity("", who.sub, (who.email or "").lower())
        if provider is Provider.MICROSOFT:
            # tid + oid from the ID token; Entra documents `oid` as needing the `profile` scope, which the
            # spec does not list, and no ID token comes without `openid` (directory, Teams): then the
            # (JWT) access token names the user. Never the email, never the pairwise `sub`.
            ms_id = _jwt_claims(tokens.id_token or "")
            access = _jwt_claims(tokens.access_token)
            tenant = str(ms_id.get("tid") or access.get("tid") or "")
            oid = str(ms_id.get("oid") or access.get("oid") or "")
            email = str(ms_id.get("email") or ms_id.get("preferred_username") or access.get("upn") or "")
            return ProviderIdentity(tenant, oid, email.lower())
        if provider is Provider.ZOOM:
            user = await self._p.zoom.get_user(tokens.access_token, "me")
            return ProviderIdentity(user.account_id or "", user.id, user.email.lower())
        person = await self._p.webex.me(tokens.access_token)
        email = person.emails[0] if person.emails else ""
        return ProviderIdentity(person.org_id or "", person.id, email.lower())

    def _zoom(self, client_id: str, client_secret: str) -> Zoom:
        """The deployment's Zoom app, or the server-to-server app a credential brought."""
        if not client_id:
            return self._p.zoom
        return Zoom(self._p.http, self._p.endpoints, OAuthApp(client_id, client_secret))


def _with(url: str, **params: str | None) -> str:
    extra = {k: v for k, v in params.items() if v}
    return f"{url}&{urlencode(extra, quote_via=quote)}" if extra else url


def _jwt_claims(token: str) -> dict[str, Any]:
    """Claims of a JWT access token read without verification (only to learn roles/tenant), else {}."""
    if token.count(".") != 2:
        return {}
    try:
        return decode_jwt_unverified("microsoft", token)
    except ProviderResponseError:
        return {}


def _unavailable(provider: Provider, message: str, status: int | None = None, reason: str = "PROVIDER_UNAVAILABLE") -> Unavailable:
    metadata = {"provider": provider.value}
    if status:
        metadata["http_status"] = str(status)
    return Unavailable(f"{provider.value.lower()}: {message}", reason=reason, metadata=metadata)


async def _token_call(provider: Provider, call: Awaitable[T]) -> T:
    """Await a token-endpoint call, translating provider errors for the use cases."""
    try:
        return await call
    except OAuthError as exc:
        raise ProviderRefused(provider, exc.error, exc.description or "", exc.status) from None
    except (ProviderUnavailable, ProviderRateLimited) as exc:
        raise _unavailable(provider, f"token endpoint failed: {exc}", exc.status, "TOKEN_ENDPOINT_FAILED") from None
    except ProviderError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            raise ProviderRefused(provider, exc.provider_code or f"http_{exc.status}", str(exc), exc.status) from None
        raise _unavailable(provider, f"token endpoint answered unexpectedly: {exc}", exc.status,
                           "TOKEN_ENDPOINT_FAILED") from None  # fmt: skip


async def _api_call(provider: Provider, call: Awaitable[T]) -> T:
    """Await an API call: transient failures are UNAVAILABLE, refusals FAILED_PRECONDITION."""
    try:
        return await call
    except (ProviderUnavailable, ProviderRateLimited) as exc:
        raise _unavailable(provider, str(exc), exc.status) from None
    except ProviderError as exc:
        metadata = {"provider": provider.value}
        if exc.status:
            metadata["http_status"] = str(exc.status)
        if exc.provider_code:
            metadata["provider_error"] = exc.provider_code
        raise FailedPrecondition(f"the provider refused the call: {exc}", reason="PROVIDER_REJECTED",
                                 metadata=metadata) from None  # fmt: skip
