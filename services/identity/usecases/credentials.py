"""Reading, listing and revoking credentials; re-encrypting the vault with the current key.

Business rules:

- RevokeCredential makes the credential unusable at once (REVOKED, cached tokens dropped), then
  revokes at the provider: Google (``/revoke`` of the refresh token, which takes its access tokens
  along) and Zoom (``/oauth/revoke``). Microsoft's identity platform and Webex have no endpoint that
  revokes one app's tokens (an administrator removes the app's grant in Entra ID / Control Hub; the
  tokens expire within the hour); SuccessFactors tokens are not revocable either. Either way the
  stored tokens and keys are erased. If the provider cannot be reached, the revocation stays pending
  and :meth:`CredentialUseCases.retry_revocations` tries again (a background task does, regularly).
- Revoking is idempotent: a REVOKED credential is returned unchanged.
- Key rotation: put the new key first in ``RENDEZVOUS_IDENTITY_ENCRYPTION_KEYS`` and keep the old one
  after it; secrets encrypted with an old key are re-encrypted when read and by
  :meth:`KeyRotation.run` (``python -m services.identity rotate-keys``), after which
  the old key can be removed.
"""

from __future__ import annotations

import logging

from kit.clock import Clock
from kit.errors import RendezvousError, Unavailable
from kit.paging import Page, next_page_token, page_request
from services.identity.domain.model import Credential, CredentialSecrets, CredentialState
from services.identity.ports import OAuthProviders, ProviderRefused, UnitOfWorkFactory
from services.identity.usecases.checks import Checks, credential_not_found, invalid
from services.identity.usecases.tokens import TokenService

log = logging.getLogger("rendezvous.identity.credentials")


class CredentialUseCases:
    def __init__(
        self, uow: UnitOfWorkFactory, providers: OAuthProviders, tokens: TokenService, clock: Clock
    ) -> None:
        self._uow = uow
        self._providers = providers
        self._tokens = tokens
        self._clock = clock

    async def get(self, org_unit_id: str, credential_id: str) -> Credential:
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        v.required_id(credential_id, "credential_id")
        v.raise_if_any()
        async with self._uow() as uow:
            credential = await uow.credentials.get(credential_id)
        if credential is None or credential.org_unit_id != org_unit_id:
            raise credential_not_found(credential_id)
        return credential

    async def list(self, org_unit_id: str, page_size: int, page_token: str, show_revoked: bool) -> Page[Credential]:
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        v.raise_if_any()
        query = f"credentials:{org_unit_id}:{show_revoked}"
        page = page_request(page_size, page_token, default=50, maximum=1000, query=query)
        after = _cursor(page.after)
        async with self._uow() as uow:
            items = await uow.credentials.page(org_unit_id, after, page.size + 1, show_revoked)
        more = len(items) > page.size
        items = items[: page.size]
        token = next_page_token([items[-1].create_time.isoformat(), items[-1].id], query=query) if more else ""
        return Page(items, token)

    async def revoke(self, org_unit_id: str, credential_id: str) -> Credential:
        credential = await self.get(org_unit_id, credential_id)
        if credential.state is CredentialState.REVOKED:
            return credential
        async with self._uow() as uow:
            current = await uow.credentials.get(credential_id)
            if current is None:
                raise credential_not_found(credential_id)
            if current.state is CredentialState.REVOKED:
                return current
            revoked = current.revoked(self._clock.now())
            await uow.credentials.update(revoked)
            await uow.credentials.set_revocation_pending(credential_id, True)
            sealed = await uow.credentials.secrets(credential_id)
            await uow.commit()
        self._tokens.forget(credential_id)
        await self._revoke_at_provider(revoked, sealed.secrets if sealed else CredentialSecrets())
        return revoked

    async def retry_revocations(self, limit: int = 50) -> int:
        """Try again the provider revocations that failed; how many are done now."""
        async with self._uow() as uow:
            pending = await uow.credentials.pending_revocations(limit)
        done = 0
        for credential_id in pending:
            async with self._uow() as uow:
                credential = await uow.credentials.get(credential_id)
                sealed = await uow.credentials.secrets(credential_id)
            if credential is not None and await self._revoke_at_provider(
                credential, sealed.secrets if sealed else CredentialSecrets()
            ):
                done += 1
        return done

    async def _revoke_at_provider(self, credential: Credential, secrets: CredentialSecrets) -> bool:
        token = secrets.refresh_token or secrets.access_token
        if token:
            try:
                await self._providers.revoke(credential.provider, token, secrets.service)
            except Unavailable as exc:
                log.warning(
                    "provider revocation failed; will retry",
                    extra={"credential_id": credential.id, "provider": credential.provider.value, "error": exc.message},
                )
                return False
            except (ProviderRefused, RendezvousError) as exc:
                # The provider no longer knows the token (already revoked or expired): nothing to undo.
                log.info("provider refused revocation", extra={"credential_id": credential.id, "error": str(exc)})
        async with self._uow() as uow:
            await uow.credentials.wipe_secrets(credential.id)
            await uow.credentials.set_revocation_pending(credential.id, False)
            await uow.commit()
        return True


def _cursor(after: object) -> tuple[str, str] | None:
    if after is None:
        return None
    if isinstance(after, list) and len(after) == 2 and all(isinstance(part, str) for part in after):
        return after[0], after[1]
    raise invalid("page_token", "is not a token this service issued")


class KeyRotation:
    """Re-encrypts the vault with the current key (after a new key was put first in the setting)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def run(self, batch: int = 200) -> int:
        """Re-encrypt every stored secret with the current key; how many records were re-encrypted."""
        total = 0
        while True:
            async with self._uow() as uow:
                credential_ids = await uow.credentials.stale_key_ids(batch)
                authorization_ids = await uow.authorizations.stale_key_ids(batch)
            if not credential_ids and not authorization_ids:
                return total
            for credential_id in credential_ids:
                async with self._uow() as uow:
                    sealed = await uow.credentials.secrets(credential_id)
                    if sealed is not None and sealed.stale_key:
                        await uow.credentials.store_secrets(credential_id, sealed.secrets)
                        total += 1
                    await uow.commit()
            for authorization_id in authorization_ids:
                async with self._uow() as uow:
                    if await uow.authorizations.rekey(authorization_id):
                        total += 1
                    await uow.commit()

