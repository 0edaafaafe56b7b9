"""An in-test stand-in for the identity service: IdentityService's real contract (the generated base
class), served over gRPC on port 0, answering what the test sets up.

Access tokens are real sandbox tokens, obtained the way identity obtains them: Microsoft
client-credentials with the demo app, a Google service-account JWT (domain-wide delegation as the
Workspace admin), a SuccessFactors SAML bearer assertion, Zoom server-to-server; Webex (user tokens
only, no service grant) gets a token minted by the sandbox's admin API.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from kit import errors
from kit.grpc_errors import to_status
from providers import OAuthApp, ProviderApps, ProviderEndpoints, ProviderHttp, Providers, RetryPolicy
from rendezvous.common.v1 import common_pb2 as common
from rendezvous.identity.v1 import identity_resources_pb2 as ires
from rendezvous.identity.v1 import identity_service_pb2 as ipb
from rendezvous.identity.v1 import identity_service_pb2_grpc as ipb_grpc
from sandbox.testing import SandboxAdmin

FIXTURES = Path(__file__).resolve().parents[3] / "libs" / "sandbox" / "fixtures" / "demo"
CONTOSO = "11111111-1111-1111-1111-111111111111"
GOOGLE_ADMIN = "grace@northwind.example"
GOOGLE_DIRECTORY_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
)
DOMAIN = "identity.rendezvous"


@dataclass
class Issued:
    """A credential the stand-in knows, and how to get a token for it from the sandbox."""

    credential: ires.Credential
    mint: Callable[[], Awaitable[str]]
    token: str = ""


@dataclass
class IdentityStandin(ipb_grpc.IdentityServiceServicer):
    sandbox_url: str
    providers: Providers
    admin: SandboxAdmin
    authorizations: dict[str, ires.Authorization] = field(default_factory=dict)
    credentials: dict[str, Issued] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    token_calls: int = 0
    rejected: list[str] = field(default_factory=list)  # rejected_access_token hints received
    revocation_fails: bool = False
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # ---------------------------------------------------------------------------- test set-up

    def add_credential(self, org_unit_id: str, provider: int, purpose: int, mint: Callable[[], Awaitable[str]],
                       access_mode: int = 0, org_wide: bool = True) -> str:  # fmt: skip
        credential_id = f"cred-{next(self._ids)}"
        self.credentials[credential_id] = Issued(
            ires.Credential(
                id=credential_id, org_unit_id=org_unit_id, provider=provider, purpose=purpose, access_mode=access_mode,
                kind=ires.Credential.KIND_ORGANIZATION_WIDE if org_wide else ires.Credential.KIND_USER_DELEGATED,
                state=ires.Credential.STATE_ACTIVE,
            ),
            mint,
        )  # fmt: skip
        return credential_id

    def microsoft(self, org_unit_id: str, purpose: int = ires.PURPOSE_DIRECTORY) -> str:
        async def mint() -> str:
            return (await self.providers.microsoft.identity.client_credentials(CONTOSO)).access_token

        return self.add_credential(org_unit_id, common.PROVIDER_MICROSOFT, purpose, mint)

    def google(self, org_unit_id: str) -> str:
        key = json.loads((FIXTURES / "google.json").read_text())["service_accounts"][0]

        async def mint() -> str:
            token = await self.providers.google.oauth.service_account_token(key, GOOGLE_ADMIN, GOOGLE_DIRECTORY_SCOPES)
            return token.access_token

        return self.add_credential(org_unit_id, common.PROVIDER_GOOGLE, ires.PURPOSE_DIRECTORY, mint)

    def successfactors(self, org_unit_id: str) -> str:
        async def mint() -> str:
            async with httpx.AsyncClient() as client:
                answer = await client.post(f"{self.sandbox_url}/successfactors/oauth/idp", data={
                    "client_id": "rendezvous-sf-client", "private_key": "sandbox-sf-private-key-not-secret",
                    "user_id": "sfapi", "token_url": f"{self.sandbox_url}/successfactors/oauth/token"})  # fmt: skip
                answer.raise_for_status()
            token = await self.providers.successfactors.saml_bearer_token("", "FABRIKAM", "rendezvous-sf-client", answer.text)
            return token.access_token

        return self.add_credential(org_unit_id, common.PROVIDER_SUCCESSFACTORS, ires.PURPOSE_DIRECTORY, mint)

    def zoom(self, org_unit_id: str) -> str:
        async def mint() -> str:
            return (await self.providers.zoom.account_token("zoom-acct-1")).access_token

        return self.add_credential(org_unit_id, common.PROVIDER_ZOOM, ires.PURPOSE_CONFERENCING, mint)

    def webex(self, org_unit_id: str, person_id: str) -> str:
        async def mint() -> str:
            return await self.admin.issue_token("webex", client_id="rendezvous-webex-client", subject=person_id,
                                                scopes=["spark:people_read", "meeting:admin_schedule_write"])  # fmt: skip

        return self.add_credential(org_unit_id, common.PROVIDER_WEBEX, ires.PURPOSE_CONFERENCING, mint)

    def complete(self, authorization_id: str, credential_id: str) -> None:
        auth = self.authorizations[authorization_id]
        auth.state = ires.Authorization.STATE_COMPLETED
        auth.credential_id = credential_id

    # ----------------------------------------------------------------------------- the contract

    async def _fail(self, context: grpc.aio.ServicerContext, error: errors.RendezvousError) -> Any:
        await context.abort_with_status(to_status(error, DOMAIN))

    async def StartAuthorization(self, request: ipb.StartAuthorizationRequest,
                                 context: grpc.aio.ServicerContext) -> ipb.StartAuthorizationResponse:  # fmt: skip
        auth_id = f"auth-{next(self._ids)}"
        url = (f"{self.sandbox_url}/login.microsoftonline.com/common/oauth2/v2.0/authorize"
               f"?client_id=rendezvous-ms-client&state={auth_id}")  # fmt: skip
        auth = ires.Authorization(
            id=auth_id, org_unit_id=request.org_unit_id, provider=request.provider, purpose=request.purpose,
            access_mode=request.access_mode, grant=request.grant, return_uri=request.return_uri,
            authorization_url=url, state=ires.Authorization.STATE_PENDING,
        )  # fmt: skip
        self.authorizations[auth_id] = auth
        return ipb.StartAuthorizationResponse(authorization=auth)

    async def GetAuthorization(self, request: ipb.GetAuthorizationRequest,
                               context: grpc.aio.ServicerContext) -> ipb.GetAuthorizationResponse:  # fmt: skip
        auth = self.authorizations.get(request.authorization_id)
        if auth is None or auth.org_unit_id != request.org_unit_id:
            return await self._fail(context, errors.NotFound("no such authorization", reason="AUTHORIZATION_NOT_FOUND"))
        return ipb.GetAuthorizationResponse(authorization=auth)

    def _credential(self, org_unit_id: str, credential_id: str) -> Issued | None:
        issued = self.credentials.get(credential_id)
        return issued if issued is not None and issued.credential.org_unit_id == org_unit_id else None

    async def GetCredential(self, request: ipb.GetCredentialRequest,
                            context: grpc.aio.ServicerContext) -> ipb.GetCredentialResponse:  # fmt: skip
        issued = self._credential(request.org_unit_id, request.credential_id)
        if issued is None:
            return await self._fail(context, errors.NotFound("no such credential", reason="CREDENTIAL_NOT_FOUND"))
        return ipb.GetCredentialResponse(credential=issued.credential)

    async def RevokeCredential(self, request: ipb.RevokeCredentialRequest,
                               context: grpc.aio.ServicerContext) -> ipb.RevokeCredentialResponse:  # fmt: skip
        if self.revocation_fails:
            return await self._fail(context, errors.Unavailable("identity's database is down", reason="DATABASE_UNAVAILABLE"))
        issued = self._credential(request.org_unit_id, request.credential_id)
        if issued is None:
            return await self._fail(context, errors.NotFound("no such credential", reason="CREDENTIAL_NOT_FOUND"))
        issued.credential.state = ires.Credential.STATE_REVOKED
        self.revoked.append(request.credential_id)
        return ipb.RevokeCredentialResponse(credential=issued.credential)

    async def GetAccessToken(self, request: ipb.GetAccessTokenRequest,
                             context: grpc.aio.ServicerContext) -> ipb.GetAccessTokenResponse:  # fmt: skip
        self.token_calls += 1
        issued = self._credential(request.org_unit_id, request.credential_id)
        if issued is None:
            return await self._fail(context, errors.NotFound("no such credential", reason="CREDENTIAL_NOT_FOUND"))
        if issued.credential.state != ires.Credential.STATE_ACTIVE:
            return await self._fail(context, errors.FailedPrecondition(
                "the credential needs a new authorization", reason="CREDENTIAL_NEEDS_REAUTHORIZATION"))  # fmt: skip
        if request.rejected_access_token:
            self.rejected.append(request.rejected_access_token)
            if request.rejected_access_token == issued.token:  # as identity does: replace the refused token
                issued.token = ""
        if not issued.token:
            issued.token = await issued.mint()
        return ipb.GetAccessTokenResponse(access_token=issued.token, token_type="Bearer", expire_time=Timestamp())


def standin_providers(sandbox_url: str) -> Providers:
    apps = ProviderApps(
        microsoft=OAuthApp("rendezvous-ms-client", "rendezvous-ms-secret"),
        zoom=OAuthApp("rendezvous-zoom-s2s", "rendezvous-zoom-s2s-secret"),
    )
    http = ProviderHttp(retry=RetryPolicy(max_retries=1, base_backoff=0.01, max_backoff=0.02))
    return Providers(http, ProviderEndpoints.sandbox(sandbox_url), apps)


async def serve(standin: IdentityStandin) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    ipb_grpc.add_IdentityServiceServicer_to_server(standin, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
