"""Identity domain model: authorizations in progress, credentials, email confirmations.

Secrets (tokens, keys, the PKCE verifier) live in their own value objects so that the records
describing a credential can be shown, logged and compared without ever carrying them; the
adapters store the secret objects encrypted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from services.identity.domain.scopes import AccessMode, GrantType, Provider, Purpose


class AuthorizationState(enum.StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class CredentialKind(enum.StrEnum):
    USER_DELEGATED = "USER_DELEGATED"
    ORGANIZATION_WIDE = "ORGANIZATION_WIDE"


class CredentialState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    NEEDS_REAUTHORIZATION = "NEEDS_REAUTHORIZATION"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class Authorization:
    """One browser authorization: started by StartAuthorization, finished by the provider's redirect.

    The OAuth ``state`` value is never held here: only its hash is stored (by the repository), and
    the verifier and URL travel in :class:`AuthorizationSecrets`.
    """

    id: str
    org_unit_id: str
    provider: Provider
    purpose: Purpose
    access_mode: AccessMode | None
    grant: GrantType
    return_uri: str
    login_hint: str
    requested_scopes: tuple[str, ...]
    state: AuthorizationState
    expire_time: datetime
    create_time: datetime
    update_time: datetime
    credential_id: str = ""
    failure_reason: str = ""
    failure_message: str = ""
    complete_time: datetime | None = None
    request_id: str = ""

    def state_at(self, now: datetime) -> AuthorizationState:
        """PENDING past its expiry reads as EXPIRED."""
        if self.state is AuthorizationState.PENDING and now >= self.expire_time:
            return AuthorizationState.EXPIRED
        return self.state

    def as_of(self, now: datetime) -> Authorization:
        state = self.state_at(now)
        return self if state is self.state else replace(self, state=state)

    def completed(self, credential_id: str, now: datetime) -> Authorization:
        return replace(
            self, state=AuthorizationState.COMPLETED, credential_id=credential_id, complete_time=now, update_time=now
        )

    def failed(self, reason: str, message: str, now: datetime) -> Authorization:
        return replace(
            self,
            state=AuthorizationState.FAILED,
            failure_reason=reason,
            failure_message=message[:1000],
            complete_time=now,
            update_time=now,
        )

    def expired(self, now: datetime) -> Authorization:
        return replace(self, state=AuthorizationState.EXPIRED, update_time=now)


@dataclass(frozen=True)
class AuthorizationSecrets:
    """What an authorization keeps encrypted: the PKCE verifier and the URL that embeds the state."""

    code_verifier: str = field(repr=False)
    authorization_url: str = field(repr=False)


@dataclass(frozen=True)
class ProviderIdentity:
    """Whose access a token grants: ``tenant_id`` + ``subject_id`` key a user, never the email."""

    tenant_id: str = ""
    subject_id: str = ""
    email: str = ""


@dataclass(frozen=True)
class TokenGrant:
    """A token endpoint's answer as the use cases see it. ``scopes`` None: the provider did not say."""

    access_token: str = field(repr=False)
    expires_at: datetime
    scopes: frozenset[str] | None
    token_type: str = "Bearer"
    refresh_token: str = field(default="", repr=False)
    identity: ProviderIdentity = ProviderIdentity()


@dataclass(frozen=True)
class Credential:
    """Access granted by a provider, described without its secrets (see :class:`CredentialSecrets`)."""

    id: str
    org_unit_id: str
    provider: Provider
    purpose: Purpose
    access_mode: AccessMode | None
    kind: CredentialKind
    grant: GrantType
    tenant_id: str
    subject_id: str
    subject_email: str
    granted_scopes: tuple[str, ...]
    required_scopes: tuple[str, ...]
    state: CredentialState
    create_time: datetime
    update_time: datetime
    access_token_expire_time: datetime | None = None
    state_message: str = ""
    authorization_id: str = ""
    revoke_time: datetime | None = None
    request_id: str = ""

    @property
    def organization_wide(self) -> bool:
        return self.kind is CredentialKind.ORGANIZATION_WIDE

    def refreshed(self, expires_at: datetime, granted: tuple[str, ...] | None, now: datetime) -> Credential:
        return replace(
            self,
            access_token_expire_time=expires_at,
            granted_scopes=granted if granted is not None else self.granted_scopes,
            update_time=now,
        )

    def needs_reauthorization(self, message: str, now: datetime) -> Credential:
        return replace(
            self,
            state=CredentialState.NEEDS_REAUTHORIZATION,
            state_message=message[:1000],
            access_token_expire_time=None,
            update_time=now,
        )

    def revoked(self, now: datetime) -> Credential:
        return replace(
            self,
            state=CredentialState.REVOKED,
            state_message="revoked",
            access_token_expire_time=None,
            revoke_time=now,
            update_time=now,
        )


@dataclass(frozen=True)
class CredentialSecrets:
    """What a credential keeps encrypted: tokens and, for organization-wide grants, the key material.

    ``service`` holds grant-specific values (service-account key JSON and the impersonated admin,
    Zoom account id and app secret, SuccessFactors assertion …), by name.
    """

    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    token_type: str = "Bearer"
    service: Mapping[str, str] = field(default_factory=dict, repr=False)

    def with_tokens(self, grant: TokenGrant) -> CredentialSecrets:
        """After a refresh: the new access token and the refresh token to keep (rotated or not)."""
        return replace(
            self,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token or self.refresh_token,
            token_type=grant.token_type or "Bearer",
        )


@dataclass(frozen=True)
class AccessToken:
    """What GetAccessToken answers (the only place a token leaves the service)."""

    access_token: str = field(repr=False)
    token_type: str
    expire_time: datetime
    granted_scopes: tuple[str, ...]

    def valid_for(self, now: datetime, validity: timedelta) -> bool:
        return self.expire_time - now >= validity


@dataclass(frozen=True)
class Confirmation:
    """A confirmation link mailed to ``email``; only the token's hash is ever stored."""

    id: str
    org_unit_id: str
    email: str
    create_time: datetime
    expire_time: datetime
    request_id: str = ""
    confirm_time: datetime | None = None
    valid_until: datetime | None = None

    def confirmed(self, now: datetime, validity: timedelta) -> Confirmation:
        return replace(self, confirm_time=now, valid_until=now + validity)


class ServiceKey:
    """Names of the values a credential's ``CredentialSecrets.service`` holds, by grant."""

    SERVICE_ACCOUNT_KEY = "service_account_key_json"  # Google
    IMPERSONATED_ADMIN = "impersonated_admin_email"  # Google
    CUSTOMER_ID = "customer_id"  # Google
    ZOOM_ACCOUNT_ID = "zoom_account_id"
    ZOOM_CLIENT_ID = "zoom_client_id"
    ZOOM_CLIENT_SECRET = "zoom_client_secret"
    SF_API_SERVER = "api_server_url"
    SF_COMPANY_ID = "company_id"
    SF_CLIENT_ID = "client_id"
    SF_USER_ID = "user_id"
    SF_ASSERTION = "saml_assertion"
    SF_PRIVATE_KEY = "private_key_pem"
    FINGERPRINT = "request_fingerprint"  # digest of the CreateServiceCredential payload (idempotency)
