"""CreateServiceCredential: organization-wide credentials that need no browser.

Business rules:

- The grant decides the provider: a Google service account with domain-wide delegation (GOOGLE),
  a Zoom server-to-server app (ZOOM, CONFERENCING only), a SuccessFactors SAML bearer grant
  (SUCCESSFACTORS, DIRECTORY only); anything else is UNSUPPORTED_COMBINATION.
- The credential is stored only after a token was obtained with it — for a service account, acting
  as the configured admin with exactly the catalogue's API scopes (Google refuses scopes the
  delegation does not cover). A refusal is PROVIDER_REJECTED and stores nothing.
- SuccessFactors: a pre-generated assertion is used as is; with a private key, SuccessFactors'
  ``/oauth/idp`` makes a fresh assertion for every token.
- Key material is stored encrypted with the tokens and never returned.
- A retry with the same ``request_id`` and the same payload returns the first credential.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, FailedPrecondition
from kit.validation import is_email, normalize_email
from services.identity.domain.model import (
    Credential,
    CredentialKind,
    CredentialSecrets,
    CredentialState,
    ServiceKey,
    TokenGrant,
)
from services.identity.domain.scopes import (
    AccessMode,
    GrantType,
    Provider,
    Purpose,
    ScopeRequirement,
    canonical_scopes,
    requirement,
    unsupported,
)
from services.identity.domain.secrets import same_hash
from services.identity.ports import OAuthProviders, ProviderRefused, UnitOfWorkFactory
from services.identity.usecases.checks import Checks

MAX_KEY_JSON = 16384


@dataclass(frozen=True)
class GoogleServiceAccountInput:
    key_json: str = field(repr=False)
    impersonated_admin_email: str
    customer_id: str = ""


@dataclass(frozen=True)
class SuccessFactorsInput:
    api_server_url: str
    company_id: str
    client_id: str
    user_id: str = ""
    private_key_pem: str = field(default="", repr=False)
    saml_assertion: str = field(default="", repr=False)


@dataclass(frozen=True)
class ZoomServerToServerInput:
    account_id: str
    client_id: str = ""
    client_secret: str = field(default="", repr=False)


ServiceGrantInput = GoogleServiceAccountInput | SuccessFactorsInput | ZoomServerToServerInput

_GRANT_OF = {
    GoogleServiceAccountInput: (GrantType.SERVICE_ACCOUNT, Provider.GOOGLE, "google_service_account"),
    SuccessFactorsInput: (GrantType.SAML_BEARER, Provider.SUCCESSFACTORS, "success_factors"),
    ZoomServerToServerInput: (GrantType.SERVER_TO_SERVER, Provider.ZOOM, "zoom_server_to_server"),
}


class ServiceCredentialUseCases:
    def __init__(self, uow: UnitOfWorkFactory, providers: OAuthProviders, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock
        self._ids = ids

    async def create(
        self,
        org_unit_id: str,
        provider: Provider | None,
        purpose: Purpose | None,
        access_mode: AccessMode | None,
        request_id: str,
        material: ServiceGrantInput | None,
    ) -> Credential:
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        v.check(provider is not None, "provider", "is required")
        v.check(purpose is not None, "purpose", "is required")
        if purpose is Purpose.CALENDAR:
            v.check(access_mode is not None, "access_mode", "is required when purpose is CALENDAR")
        elif purpose is not None:
            v.check(access_mode is None, "access_mode", "must be unspecified unless purpose is CALENDAR")
        v.check(material is not None, "grant", "one of google_service_account, success_factors or "
                "zoom_server_to_server is required")  # fmt: skip
        v.request_id(request_id)
        if material is not None:
            material = _checked(v, material)
        v.raise_if_any()
        assert provider is not None and purpose is not None and material is not None
        grant, expected_provider, _ = _GRANT_OF[type(material)]
        if provider is not expected_provider:
            raise unsupported(provider, purpose, access_mode, grant)
        req = requirement(provider, purpose, access_mode, grant)
        fingerprint = _fingerprint(provider, purpose, req.access_mode, material)
        if request_id:
            async with self._uow() as uow:
                earlier = await uow.credentials.by_request_id(org_unit_id, request_id)
                sealed = await uow.credentials.secrets(earlier.id) if earlier else None
            if earlier is not None:
                stored = sealed.secrets.service.get(ServiceKey.FINGERPRINT, "") if sealed else ""
                if not stored or not same_hash(stored, fingerprint):
                    raise AlreadyExists(
                        "request_id was already used for a different credential",
                        reason="REQUEST_ID_CONFLICT",
                        metadata={"request_id": request_id},
                    )
                return earlier
        service = {**_service_values(material), ServiceKey.FINGERPRINT: fingerprint}
        token = await self._prove(req, material)
        missing = req.missing(token.scopes) if token.scopes is not None else ()
        if missing:
            raise FailedPrecondition(
                "the provider granted fewer scopes than required; missing: " + " ".join(missing),
                reason="INSUFFICIENT_SCOPES",
                metadata={"missing_scopes": " ".join(missing)},
            )
        now = self._clock.now()
        tenant, subject, email = _whose(material, token)
        credential = Credential(
            id=self._ids.new_id(),
            org_unit_id=org_unit_id,
            provider=provider,
            purpose=purpose,
            access_mode=req.access_mode,
            kind=CredentialKind.ORGANIZATION_WIDE,
            grant=grant,
            tenant_id=tenant,
            subject_id=subject,
            subject_email=email,
            granted_scopes=canonical_scopes(provider, token.scopes) if token.scopes is not None else req.required(),
            required_scopes=req.required(),
            state=CredentialState.ACTIVE,
            create_time=now,
            update_time=now,
            access_token_expire_time=token.expires_at,
            request_id=request_id,
        )
        secrets = CredentialSecrets(token.access_token, "", token.token_type, service)
        async with self._uow() as uow:
            await uow.credentials.add(credential, secrets)
            await uow.commit()
        return credential

    async def _prove(self, req: ScopeRequirement, material: ServiceGrantInput) -> TokenGrant:
        """Obtain a first token with the material (nothing is stored if the provider refuses)."""
        try:
            if isinstance(material, GoogleServiceAccountInput):
                return await self._providers.service_account_token(
                    material.key_json, material.impersonated_admin_email, req.required()
                )
            if isinstance(material, ZoomServerToServerInput):
                return await self._providers.zoom_account_token(
                    material.account_id, material.client_id, material.client_secret
                )
            return await self._providers.successfactors_token(
                material.api_server_url, material.company_id, material.client_id,
                assertion=material.saml_assertion, user_id=material.user_id, private_key=material.private_key_pem,
            )  # fmt: skip
        except ProviderRefused as refused:
            raise FailedPrecondition(
                f"the provider refused the credential: {refused}",
                reason="PROVIDER_REJECTED",
                metadata={"provider": req.provider.value, "provider_error": refused.error,
                          **({"http_status": str(refused.status)} if refused.status else {})},
            ) from None  # fmt: skip


def _checked(v: Checks, material: ServiceGrantInput) -> ServiceGrantInput:
    """Validate the grant's fields (named as in the request) and normalize them."""
    prefix = _GRANT_OF[type(material)][2]
    if isinstance(material, GoogleServiceAccountInput):
        key_field = f"{prefix}.service_account_key_json"
        if v.check(bool(material.key_json), key_field, "is required") and v.check(
            len(material.key_json) <= MAX_KEY_JSON, key_field, f"must be at most {MAX_KEY_JSON} characters"
        ):
            try:
                key = json.loads(material.key_json)
            except ValueError:
                key = None
            v.check(
                isinstance(key, dict) and isinstance(key.get("client_email"), str)
                and isinstance(key.get("private_key"), str),
                key_field,
                "must be a service account key file (JSON with client_email and private_key)",
            )  # fmt: skip
        admin = normalize_email(material.impersonated_admin_email)
        v.check(is_email(admin), f"{prefix}.impersonated_admin_email", "must be the email of a Workspace admin")
        return GoogleServiceAccountInput(material.key_json, admin, material.customer_id.strip())
    if isinstance(material, ZoomServerToServerInput):
        v.check(bool(material.account_id), f"{prefix}.account_id", "is required")
        if material.client_id:
            v.check(bool(material.client_secret), f"{prefix}.client_secret", "is required with client_id")
        return material
    url = urlsplit(material.api_server_url)
    v.check(url.scheme == "https" and bool(url.hostname), f"{prefix}.api_server_url", "must be an absolute https URI")
    v.check(bool(material.company_id), f"{prefix}.company_id", "is required")
    v.check(bool(material.client_id), f"{prefix}.client_id", "is required")
    v.check(
        bool(material.private_key_pem) != bool(material.saml_assertion),
        f"{prefix}.assertion",
        "exactly one of private_key_pem or saml_assertion is required",
    )
    if material.private_key_pem:
        v.check(bool(material.user_id), f"{prefix}.user_id", "is required with private_key_pem")
    return material


def _service_values(material: ServiceGrantInput) -> dict[str, str]:
    if isinstance(material, GoogleServiceAccountInput):
        return {
            ServiceKey.SERVICE_ACCOUNT_KEY: material.key_json,
            ServiceKey.IMPERSONATED_ADMIN: material.impersonated_admin_email,
            ServiceKey.CUSTOMER_ID: material.customer_id,
        }
    if isinstance(material, ZoomServerToServerInput):
        return {
            ServiceKey.ZOOM_ACCOUNT_ID: material.account_id,
            ServiceKey.ZOOM_CLIENT_ID: material.client_id,
            ServiceKey.ZOOM_CLIENT_SECRET: material.client_secret,
        }
    return {
        ServiceKey.SF_API_SERVER: material.api_server_url,
        ServiceKey.SF_COMPANY_ID: material.company_id,
        ServiceKey.SF_CLIENT_ID: material.client_id,
        ServiceKey.SF_USER_ID: material.user_id,
        ServiceKey.SF_ASSERTION: material.saml_assertion,
        ServiceKey.SF_PRIVATE_KEY: material.private_key_pem,
    }


def _whose(material: ServiceGrantInput, token: TokenGrant) -> tuple[str, str, str]:
    """(tenant, subject, email) of an organization-wide credential."""
    if isinstance(material, GoogleServiceAccountInput):
        client_email = str(json.loads(material.key_json).get("client_email", ""))
        return material.customer_id, client_email, material.impersonated_admin_email
    if isinstance(material, ZoomServerToServerInput):
        return material.account_id, token.identity.subject_id, token.identity.email
    return material.company_id, material.user_id, ""


def _fingerprint(provider: Provider, purpose: Purpose, mode: AccessMode | None, material: ServiceGrantInput) -> str:
    body = json.dumps(
        {"provider": provider.value, "purpose": purpose.value, "mode": mode.value if mode else "",
         "kind": type(material).__name__, **asdict(material)},
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(body.encode()).hexdigest()
