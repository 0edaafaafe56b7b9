"""gRPC edge of the identity service: protobuf in, use cases, protobuf out.

Generated types stop here; the use cases get domain enums and dataclasses. An enum value the
contract does not define is INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

import grpc

from kit.convert import from_duration, to_timestamp
from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as pb_grpc
from services.identity.domain.model import AccessToken, Credential
from services.identity.domain.scopes import AccessMode, GrantType, Provider, Purpose
from services.identity.usecases.authorizations import AuthorizationUseCases, AuthorizationView, Redirect
from services.identity.usecases.checks import invalid
from services.identity.usecases.credentials import CredentialUseCases
from services.identity.usecases.service_credentials import (
    GoogleServiceAccountInput,
    ServiceCredentialUseCases,
    ServiceGrantInput,
    SuccessFactorsInput,
    ZoomServerToServerInput,
)
from services.identity.usecases.tokens import TokenService
from services.identity.usecases.verification import VerificationUseCases

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IdentityService"].full_name
MAX_TOKEN_ANSWERS = 10_000
E = TypeVar("E", bound=StrEnum)


def _from_pb(enum: type[E], wrapper: Any, value: int, prefix: str, field: str) -> E | None:
    """A domain enum from a protobuf enum value; None for UNSPECIFIED; INVALID_ARGUMENT if unknown."""
    if value == 0:
        return None
    try:
        return enum(wrapper.Name(value).removeprefix(prefix))
    except ValueError:
        raise invalid(field, f"{value} is not a value of {prefix.rstrip('_')}") from None


def _to_pb(wrapper: Any, value: StrEnum | None, prefix: str) -> Any:
    return 0 if value is None else int(wrapper.Value(prefix + value.value))


def authorization_to_pb(view: AuthorizationView) -> res.Authorization:
    a = view.authorization
    return res.Authorization(
        id=a.id,
        org_unit_id=a.org_unit_id,
        provider=_to_pb(common_pb2.Provider, a.provider, "PROVIDER_"),
        purpose=_to_pb(res.Purpose, a.purpose, "PURPOSE_"),
        access_mode=_to_pb(common_pb2.CalendarAccessMode, a.access_mode, "CALENDAR_ACCESS_MODE_"),
        grant=_to_pb(common_pb2.AuthorizationGrant, a.grant, "AUTHORIZATION_GRANT_"),
        return_uri=a.return_uri,
        login_hint=a.login_hint,
        authorization_url=view.authorization_url,
        requested_scopes=list(a.requested_scopes),
        state=_to_pb(res.Authorization.State, a.state, "STATE_"),
        credential_id=a.credential_id,
        failure_reason=a.failure_reason,
        failure_message=a.failure_message,
        expire_time=to_timestamp(a.expire_time),
        complete_time=to_timestamp(a.complete_time),
        create_time=to_timestamp(a.create_time),
        update_time=to_timestamp(a.update_time),
    )


def credential_to_pb(c: Credential) -> res.Credential:
    return res.Credential(
        id=c.id,
        org_unit_id=c.org_unit_id,
        provider=_to_pb(common_pb2.Provider, c.provider, "PROVIDER_"),
        purpose=_to_pb(res.Purpose, c.purpose, "PURPOSE_"),
        access_mode=_to_pb(common_pb2.CalendarAccessMode, c.access_mode, "CALENDAR_ACCESS_MODE_"),
        kind=_to_pb(res.Credential.Kind, c.kind, "KIND_"),
        tenant_id=c.tenant_id,
        subject_id=c.subject_id,
        subject_email=c.subject_email,
        granted_scopes=list(c.granted_scopes),
        required_scopes=list(c.required_scopes),
        state=_to_pb(res.Credential.State, c.state, "STATE_"),
        state_message=c.state_message,
        access_token_expire_time=to_timestamp(c.access_token_expire_time),
        authorization_id=c.authorization_id,
        create_time=to_timestamp(c.create_time),
        update_time=to_timestamp(c.update_time),
        revoke_time=to_timestamp(c.revoke_time),
    )


def _combination(request: Any) -> tuple[Provider | None, Purpose | None, AccessMode | None]:
    return (
        _from_pb(Provider, common_pb2.Provider, request.provider, "PROVIDER_", "provider"),
        _from_pb(Purpose, res.Purpose, request.purpose, "PURPOSE_", "purpose"),
        _from_pb(AccessMode, common_pb2.CalendarAccessMode, request.access_mode, "CALENDAR_ACCESS_MODE_", "access_mode"),
    )


def _service_grant(request: pb.CreateServiceCredentialRequest) -> ServiceGrantInput | None:
    kind = request.WhichOneof("grant")
    if kind == "google_service_account":
        g = request.google_service_account
        return GoogleServiceAccountInput(g.service_account_key_json, g.impersonated_admin_email, g.customer_id)
    if kind == "success_factors":
        s = request.success_factors
        return SuccessFactorsInput(s.api_server_url, s.company_id, s.client_id, s.user_id, s.private_key_pem,
                                   s.saml_assertion)  # fmt: skip
    if kind == "zoom_server_to_server":
        z = request.zoom_server_to_server
        return ZoomServerToServerInput(z.account_id, z.client_id, z.client_secret)
    return None


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    def __init__(
        self,
        authorizations: AuthorizationUseCases,
        service_credentials: ServiceCredentialUseCases,
        credentials: CredentialUseCases,
        tokens: TokenService,
        verification: VerificationUseCases,
    ) -> None:
        self._authorizations = authorizations
        self._service_credentials = service_credentials
        self._credentials = credentials
        self._tokens = tokens
        self._verification = verification
        # Answers for tokens served from memory, built once per token (the hot path of the service).
        self._token_answers: dict[AccessToken, pb.GetAccessTokenResponse] = {}

    async def StartAuthorization(
        self, request: pb.StartAuthorizationRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartAuthorizationResponse:
        provider, purpose, mode = _combination(request)
        grant = _from_pb(GrantType, common_pb2.AuthorizationGrant, request.grant, "AUTHORIZATION_GRANT_", "grant")
        view = await self._authorizations.start(
            request.org_unit_id, provider, purpose, mode, grant, request.return_uri, request.login_hint,
            request.request_id,
        )  # fmt: skip
        return pb.StartAuthorizationResponse(authorization=authorization_to_pb(view))

    async def GetAuthorization(
        self, request: pb.GetAuthorizationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAuthorizationResponse:
        view = await self._authorizations.get(request.org_unit_id, request.authorization_id)
        return pb.GetAuthorizationResponse(authorization=authorization_to_pb(view))

    async def CompleteAuthorization(
        self, request: pb.CompleteAuthorizationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteAuthorizationResponse:
        authorization, credential = await self._authorizations.complete(
            Redirect(
                state=request.state, code=request.code, admin_consent=request.admin_consent, tenant=request.tenant,
                scope=request.scope, error=request.error, error_description=request.error_description,
            )
        )  # fmt: skip
        return pb.CompleteAuthorizationResponse(
            authorization=authorization_to_pb(AuthorizationView(authorization, "")),
            credential=credential_to_pb(credential),
        )

    async def CreateServiceCredential(
        self, request: pb.CreateServiceCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateServiceCredentialResponse:
        provider, purpose, mode = _combination(request)
        credential = await self._service_credentials.create(
            request.org_unit_id, provider, purpose, mode, request.request_id, _service_grant(request)
        )
        return pb.CreateServiceCredentialResponse(credential=credential_to_pb(credential))

    async def GetCredential(
        self, request: pb.GetCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCredentialResponse:
        credential = await self._credentials.get(request.org_unit_id, request.credential_id)
        return pb.GetCredentialResponse(credential=credential_to_pb(credential))

    async def ListCredentials(
        self, request: pb.ListCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCredentialsResponse:
        page = await self._credentials.list(
            request.org_unit_id, request.page_size, request.page_token, request.show_revoked
        )
        return pb.ListCredentialsResponse(
            credentials=[credential_to_pb(c) for c in page.items], next_page_token=page.next_page_token
        )

    async def RevokeCredential(
        self, request: pb.RevokeCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeCredentialResponse:
        credential = await self._credentials.revoke(request.org_unit_id, request.credential_id)
        return pb.RevokeCredentialResponse(credential=credential_to_pb(credential))

    async def GetAccessToken(
        self, request: pb.GetAccessTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAccessTokenResponse:
        validity: timedelta | None = None
        if request.HasField("min_validity"):
            validity = from_duration(request.min_validity) or None
        token = await self._tokens.get_access_token(
            request.org_unit_id, request.credential_id, request.subject, validity, request.rejected_access_token
        )
        answer = self._token_answers.get(token)
        if answer is None:
            if len(self._token_answers) >= MAX_TOKEN_ANSWERS:
                self._token_answers.clear()
            answer = self._token_answers[token] = pb.GetAccessTokenResponse(
                access_token=token.access_token,
                token_type=token.token_type,
                expire_time=to_timestamp(token.expire_time),
                granted_scopes=token.granted_scopes,
            )
        return answer

    async def VerifyOrganizer(
        self, request: pb.VerifyOrganizerRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyOrganizerResponse:
        outcome = await self._verification.verify(request.org_unit_id, request.email)
        return pb.VerifyOrganizerResponse(
            verified=outcome.verified,
            method=_to_pb(pb.VerificationMethod, outcome.method, "VERIFICATION_METHOD_"),
            reason=outcome.reason,
            access_mode=_to_pb(common_pb2.CalendarAccessMode, outcome.access_mode, "CALENDAR_ACCESS_MODE_"),
            calendar_connection_id=outcome.calendar_connection_id,
            account_id=outcome.account_id,
            expire_time=to_timestamp(outcome.expire_time),
        )

    async def SendConfirmationLink(
        self, request: pb.SendConfirmationLinkRequest, context: grpc.aio.ServicerContext
    ) -> pb.SendConfirmationLinkResponse:
        expire = await self._verification.send_confirmation_link(request.org_unit_id, request.email, request.request_id)
        return pb.SendConfirmationLinkResponse(expire_time=to_timestamp(expire))

    async def ConfirmEmail(
        self, request: pb.ConfirmEmailRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmEmailResponse:
        confirmation = await self._verification.confirm(request.token)
        return pb.ConfirmEmailResponse(
            org_unit_id=confirmation.org_unit_id,
            email=confirmation.email,
            confirm_time=to_timestamp(confirmation.confirm_time),
            expire_time=to_timestamp(confirmation.valid_until),
        )
