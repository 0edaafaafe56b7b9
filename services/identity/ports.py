"""Ports of the identity service: what the use cases need from the outside world.

Repositories store domain objects; the secret parts (``AuthorizationSecrets``,
``CredentialSecrets``) go in and come out in the clear here and are encrypted by the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from services.identity.domain.model import (
    Authorization,
    AuthorizationSecrets,
    Confirmation,
    Credential,
    CredentialSecrets,
    TokenGrant,
)
from services.identity.domain.scopes import Provider, ScopeRequirement
from services.identity.domain.verification import Resolution


class Authorizations(Protocol):
    """Authorizations, found by id, by the hash of their OAuth state, or by request id."""

    async def add(self, authorization: Authorization, state_hash: str, secrets: AuthorizationSecrets) -> None: ...
    async def get(self, authorization_id: str) -> Authorization | None: ...
    async def by_state_hash(self, state_hash: str) -> Authorization | None: ...
    async def by_request_id(self, org_unit_id: str, request_id: str) -> Authorization | None: ...
    async def secrets(self, authorization_id: str) -> AuthorizationSecrets | None: ...
    async def claim(self, authorization_id: str, now: datetime, until: datetime) -> bool:
        """Take the right to exchange the code: True for one caller while PENDING and unclaimed."""
        ...
    async def release(self, authorization_id: str) -> None:
        """Give the claim back (the exchange failed transiently; the authorization stays PENDING)."""
        ...
    async def finish(self, authorization: Authorization) -> bool:
        """Store a final state if the row is still PENDING (single use); forgets its secrets."""
        ...
    async def stale_key_ids(self, limit: int) -> list[str]:
        """Authorizations whose secrets are encrypted with a key other than the current one."""
        ...
    async def rekey(self, authorization_id: str) -> bool:
        """Re-encrypt an authorization's secrets with the current key (False if there was nothing to do)."""
        ...


@dataclass(frozen=True)
class SealedSecrets:
    """Secrets as read back; ``stale_key`` when they were encrypted with a key that is no longer current."""

    secrets: CredentialSecrets
    stale_key: bool


class Credentials(Protocol):
    """Credentials and their encrypted secrets, plus the refresh lease and revocation bookkeeping."""

    async def add(self, credential: Credential, secrets: CredentialSecrets) -> None: ...
    async def get(self, credential_id: str) -> Credential | None: ...
    async def by_request_id(self, org_unit_id: str, request_id: str) -> Credential | None: ...
    async def page(
        self, org_unit_id: str, after: tuple[str, str] | None, limit: int, show_revoked: bool
    ) -> list[Credential]:
        """Oldest first; ``after`` is the (create_time ISO, id) of the last one seen."""
        ...
    async def update(self, credential: Credential) -> None: ...
    async def secrets(self, credential_id: str) -> SealedSecrets | None: ...
    async def store_secrets(self, credential_id: str, secrets: CredentialSecrets) -> None:
        """Encrypt with the current key and store."""
        ...
    async def wipe_secrets(self, credential_id: str) -> None: ...
    async def try_lease(self, credential_id: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take the refresh lease unless another holder has it unexpired (one conditional UPDATE)."""
        ...
    async def release_lease(self, credential_id: str, holder: str) -> None: ...
    async def set_revocation_pending(self, credential_id: str, pending: bool) -> None: ...
    async def pending_revocations(self, limit: int) -> list[str]: ...
    async def stale_key_ids(self, limit: int) -> list[str]:
        """Credentials whose secrets are encrypted with a key other than the current one."""
        ...


class Confirmations(Protocol):
    """Confirmation links, found by the hash of their token; the token itself is never stored."""

    async def add(self, confirmation: Confirmation, token_hash: str) -> None: ...
    async def by_token_hash(self, token_hash: str) -> tuple[Confirmation, str] | None:
        """The confirmation and its stored hash (for a constant-time comparison)."""
        ...
    async def by_request_id(self, org_unit_id: str, request_id: str) -> Confirmation | None: ...
    async def delete(self, confirmation_id: str) -> None: ...
    async def confirm(self, confirmation: Confirmation) -> bool:
        """Record the confirmation if it was not confirmed yet (single use)."""
        ...
    async def confirmed_until(self, org_unit_id: str, email: str, now: datetime) -> datetime | None:
        """The latest instant a followed link for (unit, email) still counts, if one does."""
        ...
    async def sent_since(self, org_unit_id: str, email: str, since: datetime) -> int: ...


class UnitOfWork(Protocol):
    """One transaction over the identity repositories; rolls back unless committed."""

    authorizations: Authorizations
    credentials: Credentials
    confirmations: Confirmations

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class ProviderRefused(Exception):
    """The provider's token endpoint refused a grant (HTTP 4xx); ``invalid_grant`` means re-authorize."""

    def __init__(self, provider: Provider, error: str, description: str = "", status: int | None = None) -> None:
        super().__init__(f"{provider.value}: {error}" + (f": {description}" if description else ""))
        self.provider = provider
        self.error = error
        self.description = description
        self.status = status

    @property
    def invalid_grant(self) -> bool:
        return self.error == "invalid_grant"


class OAuthProviders(Protocol):
    """The providers' OAuth endpoints. Transient failures raise ``Unavailable`` (TOKEN_ENDPOINT_FAILED),
    refusals raise :class:`ProviderRefused`."""

    def authorization_url(
        self, requirement: ScopeRequirement, *, state: str, code_verifier: str, login_hint: str
    ) -> str:
        """The URL the user's browser opens (admin consent for Microsoft's ADMIN_CONSENT grant)."""
        ...
    async def exchange_code(self, provider: Provider, *, code: str, code_verifier: str) -> TokenGrant:
        """Tokens for an authorization code, with the identity of the user they belong to."""
        ...
    async def refresh(self, provider: Provider, *, refresh_token: str, tenant_id: str) -> TokenGrant: ...
    async def app_token(self, tenant: str) -> TokenGrant:
        """Microsoft client-credentials token for ``tenant``; ``scopes`` are its app roles when known."""
        ...
    async def service_account_token(self, key_json: str, subject: str, scopes: tuple[str, ...]) -> TokenGrant: ...
    async def zoom_account_token(self, account_id: str, client_id: str, client_secret: str) -> TokenGrant: ...
    async def successfactors_token(
        self, api_server_url: str, company_id: str, client_id: str, *, assertion: str = "", user_id: str = "",
        private_key: str = "",
    ) -> TokenGrant:
        """SAML bearer grant with a given assertion, or one made for ``user_id`` with ``private_key``."""
        ...
    async def revoke(self, provider: Provider, token: str, service: Mapping[str, str]) -> bool:
        """Revoke at the provider; False when the provider has no revocation endpoint for it."""
        ...


class Mailboxes(Protocol):
    """Asks a calendar provider whether it knows a mailbox (raises ``Unavailable`` when it cannot say)."""

    async def exists(self, provider: Provider, access_token: str, *, asking_as: str, email: str) -> bool: ...


class DirectoryLookup(Protocol):
    """Directory's ResolveAccount: the account and the calendar connection serving an email."""

    async def resolve(self, org_unit_id: str, email: str) -> Resolution: ...


class Mailer(Protocol):
    """Hands a plain-text message to the mail relay; raises ``Unavailable`` (MAIL_DELIVERY_FAILED) if refused."""

    async def send(self, to: str, subject: str, body: str) -> None: ...


class LinkSigner(Protocol):
    """Signs confirmation-link payloads and checks signatures in constant time (any configured key)."""

    def sign(self, payload: bytes) -> str: ...
    def verify(self, payload: bytes, signature: str) -> bool: ...


class SecretSource(Protocol):
    """Fresh random secrets (state values, PKCE verifiers, link nonces)."""

    def token(self, nbytes: int = 32) -> str: ...
