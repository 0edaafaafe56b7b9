"""GetAccessToken: a token valid for at least ``min_validity``, refreshed once however many ask.

Business rules:

- A token is refreshed ahead of expiry: whenever less than ``min_validity`` (5 minutes by default,
  at most 30) remains. Rotated refresh tokens are stored; a provider that sends none keeps the old.
- Concurrent requests for one credential cause ONE provider call: in this process they share one
  in-flight task; across replicas a lease on the credential row (a conditional UPDATE) lets one
  replica refresh while the others wait for its result.
- Tokens are cached in memory, so a valid token is served without touching the database, the
  vault's cipher or the provider. A cached entry is re-checked after ``cache_recheck`` (30 s), so a
  credential revoked or needing reauthorization stops being served within that time (in this
  replica at once): the re-check reads the credential's row only, and only when the row changed
  since the token was cached (another replica refreshed it) are the stored tokens read and decrypted.
- A caller whose provider answered 401 for a token passes it back as ``rejected_token``. If it is
  still the credential's current token, the credential is refreshed (coalesced like any refresh:
  one provider call however many callers report the same token); if the stored token is already
  another one, that one is served without a refresh.
- ``invalid_grant`` (and any refusal of an organization-wide grant) marks the credential
  NEEDS_REAUTHORIZATION; it is then FAILED_PRECONDITION (CREDENTIAL_NEEDS_REAUTHORIZATION).
  A refreshed token carrying fewer scopes than required does the same.
- Organization-wide grants mint tokens on demand: Microsoft client credentials (tenant-wide; the
  user goes in the Graph URL), a Google service account impersonating ``subject`` (default: the
  configured admin), Zoom server-to-server, SuccessFactors SAML bearer. Tokens for other Google
  subjects are kept in memory only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from kit.clock import Clock
from kit.errors import FailedPrecondition, Internal, Unavailable
from kit.validation import is_email, normalize_email
from services.identity.domain.model import (
    AccessToken,
    Credential,
    CredentialKind,
    CredentialSecrets,
    CredentialState,
    ServiceKey,
    TokenGrant,
)
from services.identity.domain.scopes import GrantType, canonical_scopes, missing_scopes
from services.identity.ports import OAuthProviders, ProviderRefused, UnitOfWorkFactory
from services.identity.usecases.checks import Checks, credential_not_found, invalid

log = logging.getLogger("rendezvous.identity.tokens")

Sleep = Callable[[float], Awaitable[None]]
CacheKey = tuple[str, str, str]  # org unit, credential, subject
FlightKey = tuple[str, str, str, timedelta, str]  # the cache key, min validity, rejected token
MAX_CACHED_TOKENS = 10_000
MAX_TOKEN_LENGTH = 16_384


@dataclass(frozen=True)
class TokenPolicy:
    default_min_validity: timedelta = timedelta(minutes=5)
    max_min_validity: timedelta = timedelta(minutes=30)
    lease: timedelta = timedelta(seconds=30)  # longest a replica may hold the refresh of one credential
    lease_poll_seconds: float = 0.05
    cache_recheck: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class _Loaded:
    """A token and the ``update_time`` of the credential row it was read or made under."""

    token: AccessToken
    version: datetime


@dataclass(frozen=True)
class _Cached:
    token: AccessToken
    version: datetime
    recheck_at: datetime


def needs_reauthorization(credential: Credential, detail: str, missing: tuple[str, ...] = ()) -> FailedPrecondition:
    metadata = {"credential_id": credential.id, "provider": credential.provider.value}
    if missing:
        metadata["missing_scopes"] = " ".join(missing)
    return FailedPrecondition(
        f"credential {credential.id!r} needs a new authorization: {detail}",
        reason="CREDENTIAL_NEEDS_REAUTHORIZATION",
        metadata=metadata,
    )


def check_usable(credential: Credential) -> None:
    """FAILED_PRECONDITION unless the credential is ACTIVE."""
    if credential.state is CredentialState.REVOKED:
        raise FailedPrecondition(
            f"credential {credential.id!r} was revoked",
            reason="CREDENTIAL_REVOKED",
            metadata={"credential_id": credential.id},
        )
    if credential.state is CredentialState.NEEDS_REAUTHORIZATION:
        raise needs_reauthorization(credential, credential.state_message or "the provider refused it")


class TokenService:
    """Serves access tokens from memory, the vault, or the provider — in that order."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        providers: OAuthProviders,
        clock: Clock,
        holder: str,
        policy: TokenPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock
        self._holder = holder  # this replica's name in the refresh lease
        self._policy = policy or TokenPolicy()
        self._sleep = sleep
        self._cache: dict[CacheKey, _Cached] = {}
        self._flights: dict[FlightKey, asyncio.Task[_Loaded]] = {}
        self._generation: dict[str, int] = {}

    async def get_access_token(
        self,
        org_unit_id: str,
        credential_id: str,
        subject: str = "",
        min_validity: timedelta | None = None,
        rejected_token: str = "",
    ) -> AccessToken:
        validity = min_validity or self._policy.default_min_validity
        if validity < timedelta(0) or validity > self._policy.max_min_validity:
            minutes = int(self._policy.max_min_validity.total_seconds() // 60)
            raise invalid("min_validity", f"must be between 0 and {minutes} minutes")
        if len(rejected_token) > MAX_TOKEN_LENGTH:
            raise invalid("rejected_access_token", f"must be at most {MAX_TOKEN_LENGTH} characters")
        key = (org_unit_id, credential_id, normalize_email(subject) if subject else "")
        now = self._clock.now()
        hit = self._cache.get(key)
        if (
            hit is not None
            and now < hit.recheck_at
            and hit.token.valid_for(now, validity)
            and hit.token.access_token != rejected_token
        ):
            return hit.token  # the hot path: no I/O, no decryption
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        v.required_id(credential_id, "credential_id")
        v.check(len(subject) <= 320, "subject", "must be at most 320 characters")
        v.raise_if_any()
        flight_key = (*key, validity, rejected_token)
        flight = self._flights.get(flight_key)
        if flight is None:
            flight = asyncio.get_running_loop().create_task(self._load(key, validity, rejected_token, hit))
            self._flights[flight_key] = flight
            generation = self._generation.get(credential_id, 0)
            flight.add_done_callback(functools.partial(self._landed, flight_key, generation))
        # Shielded: a caller that gives up does not cancel the refresh the others are waiting for.
        return (await asyncio.shield(flight)).token

    def forget(self, credential_id: str) -> None:
        """Drop every cached token of a credential (revoked, or needs reauthorization)."""
        self._generation[credential_id] = self._generation.get(credential_id, 0) + 1
        for key in [k for k in self._cache if k[1] == credential_id]:
            del self._cache[key]

    def _landed(self, key: FlightKey, generation: int, flight: asyncio.Task[_Loaded]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if flight.cancelled() or flight.exception() is not None:
            return  # exception() also marks it retrieved when no caller is left to see it
        org_unit_id, credential_id, subject, _, rejected = key
        if self._generation.get(credential_id, 0) != generation:
            return  # forgotten (revoked, needs reauthorization, or replaced) while in flight
        if rejected:  # a load that started before this replacement must not cache the rejected token
            self._generation[credential_id] = generation + 1
        now = self._clock.now()
        if len(self._cache) >= MAX_CACHED_TOKENS:  # e.g. many users of a service account: drop the expired
            self._cache = {k: c for k, c in self._cache.items() if c.token.expire_time > now}
        loaded = flight.result()
        self._cache[(org_unit_id, credential_id, subject)] = _Cached(
            loaded.token, loaded.version, now + self._policy.cache_recheck
        )

    async def _load(self, key: CacheKey, validity: timedelta, rejected: str, hit: _Cached | None) -> _Loaded:
        org_unit_id, credential_id, _ = key
        if hit is not None and hit.token.access_token != rejected and hit.token.valid_for(self._clock.now(), validity):
            # Only the re-check is due: the row says whether the credential is still usable, and a
            # row unchanged since the token was cached says the cached token is still the current one.
            credential = await self._current(org_unit_id, credential_id)
            if credential.update_time == hit.version:
                return _Loaded(hit.token, hit.version)

        def usable(stored: AccessToken) -> bool:
            return stored.valid_for(self._clock.now(), validity) and stored.access_token != rejected

        give_up = self._clock.now() + self._policy.lease + timedelta(seconds=5)
        while True:
            credential, secrets = await self._read(org_unit_id, credential_id)
            subject = self._subject_for(credential, secrets, key[2])
            if subject:
                return _Loaded(await self._mint_for(credential, secrets, subject), credential.update_time)
            now = self._clock.now()
            stored = _stored_token(credential, secrets)
            if stored is not None and usable(stored):
                return _Loaded(stored, credential.update_time)
            async with self._uow() as uow:
                leased = await uow.credentials.try_lease(credential.id, self._holder, now, now + self._policy.lease)
                await uow.commit()
            if leased:
                # Another replica may have refreshed between our read and our lease: read again
                # under the lease, so a token it just stored is used instead of refreshing twice.
                try:
                    credential, secrets = await self._read(org_unit_id, credential_id)
                except BaseException:
                    await asyncio.shield(self._release(credential.id))
                    raise
                stored = _stored_token(credential, secrets)
                if stored is not None and usable(stored):
                    await asyncio.shield(self._release(credential.id))
                    return _Loaded(stored, credential.update_time)
                return await self._refresh(credential, secrets)
            if now >= give_up:
                raise Unavailable(
                    "another replica is refreshing this credential and has not finished; retry",
                    reason="TOKEN_ENDPOINT_FAILED",
                    metadata={"provider": credential.provider.value},
                )
            await self._sleep(self._policy.lease_poll_seconds)  # then read what the other replica stored

    async def _current(self, org_unit_id: str, credential_id: str) -> Credential:
        """The credential's row (no secrets), if it belongs to the unit and is usable."""
        async with self._uow() as uow:
            return self._usable(org_unit_id, credential_id, await uow.credentials.get(credential_id))

    def _usable(self, org_unit_id: str, credential_id: str, credential: Credential | None) -> Credential:
        if credential is None or credential.org_unit_id != org_unit_id:
            raise credential_not_found(credential_id)
        if credential.state is not CredentialState.ACTIVE:
            self.forget(credential_id)  # revoked or needs reauthorization, maybe by another replica
            check_usable(credential)
        return credential

    async def _read(self, org_unit_id: str, credential_id: str) -> tuple[Credential, CredentialSecrets]:
        async with self._uow() as uow:
            credential = self._usable(org_unit_id, credential_id, await uow.credentials.get(credential_id))
            sealed = await uow.credentials.secrets(credential_id)
            if sealed is None:
                raise Internal(f"credential {credential_id} has no stored secrets")
            if sealed.stale_key:  # re-encrypt with the current key on read
                await uow.credentials.store_secrets(credential_id, sealed.secrets)
                await uow.commit()
        return credential, sealed.secrets

    def _subject_for(self, credential: Credential, secrets: CredentialSecrets, subject: str) -> str:
        """The user to mint for, or "" for the token stored with the credential."""
        if not subject:
            return ""
        if credential.kind is CredentialKind.USER_DELEGATED:
            raise invalid("subject", "must be empty for a user-delegated credential")
        if credential.grant is not GrantType.SERVICE_ACCOUNT:
            return ""  # tenant-wide tokens: the user goes in the provider URL
        if not is_email(subject):
            raise invalid("subject", "must be the email of the user to act as")
        return "" if subject == secrets.service.get(ServiceKey.IMPERSONATED_ADMIN, "") else subject

    async def _mint_for(self, credential: Credential, secrets: CredentialSecrets, subject: str) -> AccessToken:
        try:
            grant = await self._obtain(credential, secrets, subject)
        except ProviderRefused as refused:
            raise FailedPrecondition(
                f"the provider refused a token for {subject}: {refused}",
                reason="PROVIDER_REJECTED",
                metadata={"provider": credential.provider.value, "provider_error": refused.error,
                          "credential_id": credential.id},
            ) from None  # fmt: skip
        scopes = canonical_scopes(credential.provider, grant.scopes) if grant.scopes else credential.granted_scopes
        return AccessToken(grant.access_token, grant.token_type, grant.expires_at, scopes)

    async def _refresh(self, credential: Credential, secrets: CredentialSecrets) -> _Loaded:
        """Call the provider while holding the lease; store what it answered."""
        try:
            grant = await self._obtain(credential, secrets, "")
        except ProviderRefused as refused:
            if refused.invalid_grant or credential.organization_wide:
                await self._mark_needs_reauthorization(credential, secrets, str(refused))
                raise needs_reauthorization(credential, str(refused)) from None
            await asyncio.shield(self._release(credential.id))
            raise FailedPrecondition(
                f"the provider refused to refresh the token: {refused}",
                reason="PROVIDER_REJECTED",
                metadata={"provider": credential.provider.value, "provider_error": refused.error,
                          "credential_id": credential.id},
            ) from None  # fmt: skip
        except BaseException:
            await asyncio.shield(self._release(credential.id))
            raise
        return await asyncio.shield(self._save(credential, secrets, grant))

    async def _save(self, credential: Credential, secrets: CredentialSecrets, grant: TokenGrant) -> _Loaded:
        missing = (
            missing_scopes(credential.provider, credential.required_scopes, grant.scopes)
            if grant.scopes is not None
            else ()
        )
        if missing:
            detail = "the refreshed token lacks " + " ".join(missing)
            await self._mark_needs_reauthorization(credential, secrets, detail)
            raise needs_reauthorization(credential, detail, missing)
        now = self._clock.now()
        async with self._uow() as uow:
            current = await uow.credentials.get(credential.id)
            if current is None or current.state is not CredentialState.ACTIVE:
                await uow.credentials.release_lease(credential.id, self._holder)
                await uow.commit()
                check_usable(current or credential)
                raise credential_not_found(credential.id)
            granted = canonical_scopes(current.provider, grant.scopes) if grant.scopes is not None else None
            updated = current.refreshed(grant.expires_at, granted, now)
            await uow.credentials.store_secrets(credential.id, secrets.with_tokens(grant))
            await uow.credentials.update(updated)
            await uow.credentials.release_lease(credential.id, self._holder)
            await uow.commit()
        token = AccessToken(grant.access_token, grant.token_type, grant.expires_at, updated.granted_scopes)
        return _Loaded(token, updated.update_time)

    async def _obtain(self, credential: Credential, secrets: CredentialSecrets, subject: str) -> TokenGrant:
        service = secrets.service
        if credential.grant is GrantType.AUTHORIZATION_CODE:
            if not secrets.refresh_token:
                raise ProviderRefused(credential.provider, "invalid_grant", "the provider issued no refresh token")
            return await self._providers.refresh(
                credential.provider, refresh_token=secrets.refresh_token, tenant_id=credential.tenant_id
            )
        if credential.grant is GrantType.ADMIN_CONSENT:
            return await self._providers.app_token(credential.tenant_id)
        if credential.grant is GrantType.SERVICE_ACCOUNT:
            return await self._providers.service_account_token(
                service[ServiceKey.SERVICE_ACCOUNT_KEY],
                subject or service[ServiceKey.IMPERSONATED_ADMIN],
                credential.required_scopes,
            )
        if credential.grant is GrantType.SERVER_TO_SERVER:
            return await self._providers.zoom_account_token(
                service[ServiceKey.ZOOM_ACCOUNT_ID],
                service.get(ServiceKey.ZOOM_CLIENT_ID, ""),
                service.get(ServiceKey.ZOOM_CLIENT_SECRET, ""),
            )
        return await self._providers.successfactors_token(
            service[ServiceKey.SF_API_SERVER],
            service[ServiceKey.SF_COMPANY_ID],
            service[ServiceKey.SF_CLIENT_ID],
            assertion=service.get(ServiceKey.SF_ASSERTION, ""),
            user_id=service.get(ServiceKey.SF_USER_ID, ""),
            private_key=service.get(ServiceKey.SF_PRIVATE_KEY, ""),
        )

    async def _mark_needs_reauthorization(
        self, credential: Credential, secrets: CredentialSecrets, message: str
    ) -> None:
        self.forget(credential.id)
        async with self._uow() as uow:
            current = await uow.credentials.get(credential.id)
            if current is not None and current.state is CredentialState.ACTIVE:
                await uow.credentials.update(current.needs_reauthorization(message, self._clock.now()))
                # The tokens are dead; keep only what a later revocation may need.
                await uow.credentials.store_secrets(credential.id, replace(secrets, access_token="", refresh_token=""))
            await uow.credentials.release_lease(credential.id, self._holder)
            await uow.commit()
        log.warning(
            "credential needs reauthorization",
            extra={"credential_id": credential.id, "provider": credential.provider.value},
        )

    async def _release(self, credential_id: str) -> None:
        async with self._uow() as uow:
            await uow.credentials.release_lease(credential_id, self._holder)
            await uow.commit()


def _stored_token(credential: Credential, secrets: CredentialSecrets) -> AccessToken | None:
    if not secrets.access_token or credential.access_token_expire_time is None:
        return None
    return AccessToken(
        secrets.access_token, secrets.token_type, credential.access_token_expire_time, credential.granted_scopes
    )
