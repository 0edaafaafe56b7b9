"""Browser authorizations: start one, read it, complete it with the provider's redirect.

Business rules:

- The scopes asked for are the catalogue's (:mod:`services.identity.domain.scopes`), nothing else.
- The OAuth ``state`` is random, single-use and expires (10 minutes by default); only its SHA-256
  is stored. The PKCE (S256) verifier and the URL embedding the state are stored encrypted and
  forgotten once the authorization is final.
- Completing is single-use: one caller at a time may exchange the code (a claim in the database);
  a provider outage at the token endpoint leaves the authorization PENDING, so the same redirect can
  be retried until the authorization expires, and stores nothing.
- Granted scopes short of the required ones fail the authorization (INSUFFICIENT_SCOPES naming the
  missing ones) and store no credential; the tokens obtained are revoked where the provider can.
- Users are keyed by tenant + subject from the provider (Microsoft ``tid``/``oid``, Google ``sub``),
  never by email.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, FailedPrecondition, NotFound, RendezvousError
from services.identity.domain.model import (
    Authorization,
    AuthorizationSecrets,
    AuthorizationState,
    Credential,
    CredentialKind,
    CredentialSecrets,
    CredentialState,
    TokenGrant,
)
from services.identity.domain.scopes import (
    BROWSER_GRANTS,
    AccessMode,
    GrantType,
    Provider,
    Purpose,
    canonical_scopes,
    requirement,
)
from services.identity.domain.secrets import MAX_STATE_LENGTH, return_uri_problem, secret_hash
from services.identity.ports import (
    OAuthProviders,
    ProviderRefused,
    SecretSource,
    UnitOfWork,
    UnitOfWorkFactory,
)
from services.identity.usecases.checks import Checks, invalid

log = logging.getLogger("rendezvous.identity.authorizations")

MAX_LOGIN_HINT = 320
MAX_CODE = 4096


@dataclass(frozen=True)
class AuthorizationPolicy:
    ttl: timedelta = timedelta(minutes=10)
    exchange_claim: timedelta = timedelta(seconds=60)  # how long one completion may hold the code exchange


@dataclass(frozen=True)
class AuthorizationView:
    """An authorization as the API shows it; the URL only while it can still be used."""

    authorization: Authorization
    authorization_url: str


@dataclass(frozen=True)
class Redirect:
    """The provider's redirect parameters, as received."""

    state: str
    code: str = ""
    admin_consent: bool = False
    tenant: str = ""
    scope: str = ""
    error: str = ""
    error_description: str = ""


class AuthorizationUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        providers: OAuthProviders,
        clock: Clock,
        ids: IdGenerator,
        secrets: SecretSource,
        policy: AuthorizationPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock
        self._ids = ids
        self._secrets = secrets
        self._policy = policy or AuthorizationPolicy()

    async def start(
        self,
        org_unit_id: str,
        provider: Provider | None,
        purpose: Purpose | None,
        access_mode: AccessMode | None,
        grant: GrantType | None,
        return_uri: str,
        login_hint: str,
        request_id: str,
    ) -> AuthorizationView:
        """A PENDING authorization and the provider URL to open, asking for exactly the spec's scopes.

        A retry with the same ``request_id`` and payload returns the same authorization and URL.
        """
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        v.check(provider is not None, "provider", "is required")
        v.check(purpose is not None, "purpose", "is required")
        if purpose is Purpose.CALENDAR:
            v.check(access_mode is not None, "access_mode", "is required when purpose is CALENDAR")
        elif purpose is not None:
            v.check(access_mode is None, "access_mode", "must be unspecified unless purpose is CALENDAR")
        v.check(len(login_hint) <= MAX_LOGIN_HINT, "login_hint", f"must be at most {MAX_LOGIN_HINT} characters")
        v.request_id(request_id)
        v.raise_if_any()
        if return_uri and (problem := return_uri_problem(return_uri)):
            raise invalid("return_uri", problem, reason="REDIRECT_URI_INVALID")
        assert provider is not None and purpose is not None
        grant = grant or GrantType.AUTHORIZATION_CODE
        req = requirement(provider, purpose, access_mode, grant)
        if grant not in BROWSER_GRANTS:
            raise invalid("grant", "must be AUTHORIZATION_CODE or ADMIN_CONSENT", reason="UNSUPPORTED_COMBINATION")

        payload = (provider, purpose, req.access_mode, grant, return_uri, login_hint)
        if request_id:
            async with self._uow() as uow:
                earlier = await uow.authorizations.by_request_id(org_unit_id, request_id)
                if earlier is not None:
                    same = (earlier.provider, earlier.purpose, earlier.access_mode, earlier.grant,
                            earlier.return_uri, earlier.login_hint)  # fmt: skip
                    if same != payload:
                        raise AlreadyExists(
                            "request_id was already used for a different authorization",
                            reason="REQUEST_ID_CONFLICT",
                            metadata={"request_id": request_id},
                        )
                    return await self._view(uow, earlier)

        state = self._secrets.token(32)
        verifier = self._secrets.token(48)  # 64 characters, inside RFC 7636's 43-128
        url = self._providers.authorization_url(req, state=state, code_verifier=verifier, login_hint=login_hint)
        now = self._clock.now()
        authorization = Authorization(
            id=self._ids.new_id(),
            org_unit_id=org_unit_id,
            provider=provider,
            purpose=purpose,
            access_mode=req.access_mode,
            grant=grant,
            return_uri=return_uri,
            login_hint=login_hint,
            requested_scopes=req.requested(),
            state=AuthorizationState.PENDING,
            expire_time=now + self._policy.ttl,
            create_time=now,
            update_time=now,
            request_id=request_id,
        )
        async with self._uow() as uow:
            await uow.authorizations.add(authorization, secret_hash(state), AuthorizationSecrets(verifier, url))
            await uow.commit()
        return AuthorizationView(authorization, url)

    async def get(self, org_unit_id: str, authorization_id: str) -> AuthorizationView:
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        v.required_id(authorization_id, "authorization_id")
        v.raise_if_any()
        async with self._uow() as uow:
            found = await uow.authorizations.get(authorization_id)
            if found is None or found.org_unit_id != org_unit_id:
                raise NotFound(
                    f"authorization {authorization_id!r} does not exist in this organizational unit",
                    reason="AUTHORIZATION_NOT_FOUND",
                    metadata={"authorization_id": authorization_id},
                )
            return await self._view(uow, found)

    async def return_uri(self, authorization_id: str) -> str:
        """Where the browser goes after this authorization ("" when unknown) — for the redirect endpoint."""
        async with self._uow() as uow:
            found = await uow.authorizations.get(authorization_id)
        return found.return_uri if found else ""

    async def _view(self, uow: UnitOfWork, authorization: Authorization) -> AuthorizationView:
        current = authorization.as_of(self._clock.now())
        url = ""
        if current.state is AuthorizationState.PENDING:
            secrets = await uow.authorizations.secrets(current.id)
            url = secrets.authorization_url if secrets else ""
        return AuthorizationView(current, url)

    async def complete(self, redirect: Redirect) -> tuple[Authorization, Credential]:
        """Finish an authorization from the provider's redirect and store the credential.

        Errors: STATE_UNKNOWN, STATE_ALREADY_USED, STATE_EXPIRED, AUTHORIZATION_DENIED, PROVIDER_REJECTED,
        INSUFFICIENT_SCOPES (metadata ``missing_scopes``), TOKEN_ENDPOINT_FAILED (retryable; stays PENDING).
        """
        v = Checks()
        if v.check(bool(redirect.state), "state", "is required"):
            v.check(len(redirect.state) <= MAX_STATE_LENGTH, "state", f"must be at most {MAX_STATE_LENGTH} characters")
        v.check(len(redirect.code) <= MAX_CODE, "code", f"must be at most {MAX_CODE} characters")
        v.check(
            bool(redirect.code or redirect.admin_consent or redirect.error),
            "code",
            "one of code, admin_consent or error is required",
        )
        v.raise_if_any()
        now = self._clock.now()
        async with self._uow() as uow:
            authorization = await uow.authorizations.by_state_hash(secret_hash(redirect.state))
            if authorization is None:
                raise invalid("state", "was not issued by this service or was altered", reason="STATE_UNKNOWN")
            if authorization.state_at(now) is AuthorizationState.EXPIRED:
                if await uow.authorizations.finish(authorization.expired(now)):
                    await uow.commit()
                raise FailedPrecondition(
                    "the authorization expired before the provider redirected back; start a new one",
                    reason="STATE_EXPIRED",
                    metadata={"authorization_id": authorization.id},
                )
            if authorization.state is not AuthorizationState.PENDING:
                raise _already_used(authorization)
            if redirect.error:
                message = f"{redirect.error}: {redirect.error_description}".rstrip(": ")
                if not await uow.authorizations.finish(authorization.failed("AUTHORIZATION_DENIED", message, now)):
                    raise _already_used(authorization)
                await uow.commit()
                raise FailedPrecondition(
                    "the provider reported that consent was not given: " + message,
                    reason="AUTHORIZATION_DENIED",
                    metadata={"authorization_id": authorization.id, "provider_error": redirect.error[:200]},
                )
            if redirect.admin_consent != (authorization.grant is GrantType.ADMIN_CONSENT):
                field = "admin_consent" if authorization.grant is GrantType.ADMIN_CONSENT else "code"
                raise invalid(field, f"is required to complete a {authorization.grant.value} authorization")
            if not await uow.authorizations.claim(authorization.id, now, now + self._policy.exchange_claim):
                raise _already_used(authorization)
            secrets = await uow.authorizations.secrets(authorization.id)
            await uow.commit()
        assert secrets is not None
        try:
            grant = await self._obtain(authorization, redirect, secrets.code_verifier)
        except ProviderRefused as refused:
            await self._fail(authorization, "PROVIDER_REJECTED", str(refused))
            raise FailedPrecondition(
                f"the provider refused the authorization: {refused}",
                reason="PROVIDER_REJECTED",
                metadata={
                    "authorization_id": authorization.id,
                    "provider": authorization.provider.value,
                    "provider_error": refused.error,
                    **({"http_status": str(refused.status)} if refused.status else {}),
                },
            ) from None
        except BaseException:
            async with self._uow() as uow:  # nothing half-way: give the claim back, stay PENDING
                await uow.authorizations.release(authorization.id)
                await uow.commit()
            raise
        return await self._store(authorization, grant, redirect)

    async def _obtain(self, authorization: Authorization, redirect: Redirect, verifier: str) -> TokenGrant:
        if authorization.grant is GrantType.ADMIN_CONSENT:
            grant = await self._providers.app_token(redirect.tenant)
            if grant.scopes is None and redirect.scope:
                # An app token Rendezvous cannot read: fall back on the roles the consent redirect listed.
                grant = replace(grant, scopes=frozenset(redirect.scope.split()))
            return grant
        return await self._providers.exchange_code(
            authorization.provider, code=redirect.code, code_verifier=verifier
        )

    async def _store(
        self, authorization: Authorization, grant: TokenGrant, redirect: Redirect
    ) -> tuple[Authorization, Credential]:
        req = requirement(authorization.provider, authorization.purpose, authorization.access_mode, authorization.grant)
        # A provider that does not say what it granted granted what was asked (Google service accounts, Webex).
        reported = grant.scopes if grant.scopes is not None else frozenset(req.wire_scopes())
        missing = req.missing(reported)
        if missing:
            await self._fail(authorization, "INSUFFICIENT_SCOPES", "missing scopes: " + " ".join(missing))
            await self._discard(authorization.provider, grant)
            raise FailedPrecondition(
                "the provider granted fewer scopes than required; missing: " + " ".join(missing),
                reason="INSUFFICIENT_SCOPES",
                metadata={"missing_scopes": " ".join(missing), "authorization_id": authorization.id},
            )
        now = self._clock.now()
        identity = grant.identity
        organization_wide = authorization.grant is GrantType.ADMIN_CONSENT
        credential = Credential(
            id=self._ids.new_id(),
            org_unit_id=authorization.org_unit_id,
            provider=authorization.provider,
            purpose=authorization.purpose,
            access_mode=authorization.access_mode,
            kind=CredentialKind.ORGANIZATION_WIDE if organization_wide else CredentialKind.USER_DELEGATED,
            grant=authorization.grant,
            tenant_id=identity.tenant_id or (redirect.tenant if organization_wide else ""),
            subject_id=identity.subject_id,
            subject_email=identity.email,
            granted_scopes=canonical_scopes(authorization.provider, reported),
            required_scopes=req.required(),
            state=CredentialState.ACTIVE,
            create_time=now,
            update_time=now,
            access_token_expire_time=grant.expires_at,
            authorization_id=authorization.id,
        )
        secrets = CredentialSecrets(grant.access_token, grant.refresh_token, grant.token_type)
        completed = authorization.completed(credential.id, now)
        async with self._uow() as uow:
            await uow.credentials.add(credential, secrets)
            if not await uow.authorizations.finish(completed):
                raise _already_used(authorization)  # rolled back: no credential
            await uow.commit()
        return completed, credential

    async def _fail(self, authorization: Authorization, reason: str, message: str) -> None:
        async with self._uow() as uow:
            await uow.authorizations.finish(authorization.failed(reason, message, self._clock.now()))
            await uow.commit()

    async def _discard(self, provider: Provider, grant: TokenGrant) -> None:
        """Best effort: revoke tokens that will not be stored (least privilege)."""
        try:
            await self._providers.revoke(provider, grant.refresh_token or grant.access_token, {})
        except (RendezvousError, ProviderRefused) as exc:
            log.warning("could not revoke unused tokens", extra={"provider": provider.value, "error": repr(exc)})


def _already_used(authorization: Authorization) -> FailedPrecondition:
    return FailedPrecondition(
        "this authorization was already completed or failed (its state is single-use)",
        reason="STATE_ALREADY_USED",
        metadata={"authorization_id": authorization.id},
    )
