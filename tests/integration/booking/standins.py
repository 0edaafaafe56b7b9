"""In-test gRPC stand-ins of identity, directory and availability (their real contracts, generated
base classes) for the booking integration tests, while those services are being built.

* directory: units and people routed as each test says (mode, provider, credential, conferencing
  links, rooms);
* identity: VerifyOrganizer answers verified for the people it knows; GetAccessToken gets real tokens
  from the sandbox's OAuth endpoints (Google service-account JWT with domain-wide delegation,
  Microsoft client credentials, Zoom server-to-server, Webex authorization code + PKCE);
* availability: GetFreeBusy answers free unless a test marks someone busy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import grpc
import httpx

from kit import errors
from kit.convert import from_timestamp, to_timestamp
from kit.grpc_errors import to_status
from providers import OAuthApp, ProviderApps, ProviderEndpoints, ProviderHttp, Providers
from providers.oauth import new_pkce
from rendezvous.availability.v1 import availability_resources_pb2 as av_res
from rendezvous.availability.v1 import availability_service_pb2 as av_pb
from rendezvous.availability.v1 import availability_service_pb2_grpc as av_grpc
from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as dir_res
from rendezvous.directory.v1 import directory_service_pb2 as dir_pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as dir_grpc
from rendezvous.identity.v1 import identity_resources_pb2 as id_res
from rendezvous.identity.v1 import identity_service_pb2 as id_pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as id_grpc

GOOGLE_SA_SCOPES = [
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/meetings.space.created",
]
MS_TENANT = "11111111-1111-1111-1111-111111111111"
WEBEX_SCOPES = ["spark:kms", "meeting:admin_schedule_write", "spark:people_read"]
CALLBACK = "http://127.0.0.1:8054/oauth/callback"
APPS = ProviderApps(
    google=OAuthApp("rendezvous-google-client", "rendezvous-google-secret"),
    microsoft=OAuthApp("rendezvous-ms-client", "rendezvous-ms-secret"),
    zoom=OAuthApp("rendezvous-zoom-s2s", "rendezvous-zoom-s2s-secret"),
    webex=OAuthApp("rendezvous-webex-client", "rendezvous-webex-secret"),
)
#: Credentials the stand-in identity knows, and how it gets their tokens from the sandbox.
GOOGLE_DWD, MS_APP, ZOOM_S2S, WEBEX_ADA = "cred-google-dwd", "cred-ms-app", "cred-zoom-s2s", "cred-webex-ada"


@dataclass
class Link:
    service: str  # ConferencingService name without prefix
    credential_id: str
    external_user_id: str = ""
    connection_id: str = ""


@dataclass
class Person:
    email: str
    name: str
    mode: str  # CalendarAccessMode name without prefix
    provider: str = "UNSPECIFIED"
    credential_id: str = ""
    external_id: str = ""
    time_zone: str = "UTC"
    links: list[Link] = field(default_factory=list)
    verified: bool = True


@dataclass
class World:
    units: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (name, invite sender)
    people: dict[str, Person] = field(default_factory=dict)
    rooms: dict[str, str] = field(default_factory=dict)  # email → name
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def add(self, person: Person) -> Person:
        self.people[person.email] = person
        return person


class Directory(dir_grpc.DirectoryServiceServicer):
    def __init__(self, world: World) -> None:
        self.w = world

    async def GetOrganizationalUnit(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.w.calls.append(("GetOrganizationalUnit", request.org_unit_id))
        unit = self.w.units.get(request.org_unit_id, ("", ""))
        if not unit[0]:
            await context.abort_with_status(to_status(errors.NotFound(
                "no such unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND", metadata={"org_unit_id": request.org_unit_id}),
                "directory.rendezvous"))
        return dir_pb.GetOrganizationalUnitResponse(organizational_unit=dir_res.OrganizationalUnit(
            id=request.org_unit_id, display_name=unit[0], invite_sender_address=unit[1]))

    async def ResolveAccount(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.w.calls.append(("ResolveAccount", request.email))
        if request.email in self.w.rooms:
            return dir_pb.ResolveAccountResponse(room=dir_res.Room(email=request.email, display_name=self.w.rooms[request.email]))
        person = self.w.people.get(request.email)
        if person is None:
            return dir_pb.ResolveAccountResponse()
        return dir_pb.ResolveAccountResponse(
            account=dir_res.Account(email=person.email, display_name=person.name, time_zone=person.time_zone,
                                    external_id=person.external_id, state=dir_res.Account.STATE_ACTIVE),
            calendar=dir_res.CalendarRoute(
                calendar_connection_id=f"cal-{person.mode.lower()}",
                provider=common_pb2.Provider.Value(f"PROVIDER_{person.provider}"),
                access_mode=common_pb2.CalendarAccessMode.Value(f"CALENDAR_ACCESS_MODE_{person.mode}"),
                credential_id=person.credential_id, state=dir_res.CalendarConnection.STATE_ACTIVE),
            conferencing_links=[
                dir_res.ConferencingLink(
                    conferencing_connection_id=link.connection_id or f"conf-{link.service.lower()}",
                    service=common_pb2.ConferencingService.Value(f"CONFERENCING_SERVICE_{link.service}"),
                    credential_id=link.credential_id, external_user_id=link.external_user_id)
                for link in person.links
            ],
        )


class Identity(id_grpc.IdentityServiceServicer):
    def __init__(self, world: World, providers: Providers, sandbox_url: str) -> None:
        self.w = world
        self.p = providers
        self.sandbox_url = sandbox_url
        self.service_account: dict[str, Any] = {}
        self._webex: str | None = None
        self.tokens: dict[tuple[str, str], str] = {}  # as identity does: a token is handed out until it expires
        self.rejected: list[str] = []  # rejected_access_token hints received

    async def VerifyOrganizer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.w.calls.append(("VerifyOrganizer", request.email))
        person = self.w.people.get(request.email)
        if person is None or not person.verified:
            return id_pb.VerifyOrganizerResponse(verified=False, reason="EMAIL_NOT_CONFIRMED")
        return id_pb.VerifyOrganizerResponse(verified=True, method=id_pb.VERIFICATION_METHOD_DIRECTORY)

    async def GetCredential(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        kind = id_res.Credential.KIND_USER_DELEGATED if request.credential_id == WEBEX_ADA else \
            id_res.Credential.KIND_ORGANIZATION_WIDE
        return id_pb.GetCredentialResponse(credential=id_res.Credential(id=request.credential_id, kind=kind))

    async def GetAccessToken(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.w.calls.append(("GetAccessToken", f"{request.credential_id}:{request.subject}"))
        cred = request.credential_id
        key = (cred, request.subject)
        if request.rejected_access_token:
            self.rejected.append(request.rejected_access_token)
            if self.tokens.get(key) == request.rejected_access_token:  # refresh the refused current token
                del self.tokens[key]
        if key in self.tokens:
            return id_pb.GetAccessTokenResponse(access_token=self.tokens[key], token_type="Bearer")
        if cred == GOOGLE_DWD:
            if not request.subject:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a subject is needed for domain-wide delegation")
            tokens = await self.p.google.oauth.service_account_token(self.service_account, request.subject, GOOGLE_SA_SCOPES)
        elif cred == MS_APP:
            tokens = await self.p.microsoft.identity.client_credentials(MS_TENANT)
        elif cred == ZOOM_S2S:
            tokens = await self.p.zoom.account_token("zoom-acct-1")
        elif cred == WEBEX_ADA:
            if request.subject:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "subject must be empty for a user credential")
            return id_pb.GetAccessTokenResponse(access_token=await self._webex_token(), token_type="Bearer")
        else:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown credential {cred}")
        self.tokens[key] = tokens.access_token
        return id_pb.GetAccessTokenResponse(access_token=tokens.access_token, token_type="Bearer",
                                            expire_time=to_timestamp(tokens.expires_at))

    async def _webex_token(self) -> str:
        """Ada (a Webex admin) consents through the sandbox's authorize endpoint; PKCE code flow."""
        if self._webex is None:
            pkce = new_pkce()
            url = self.p.webex.authorization_url(redirect_uri=CALLBACK, scopes=WEBEX_SCOPES, state="s", code_verifier=pkce.verifier)
            async with httpx.AsyncClient() as client:
                answer = await client.get(url + "&login_hint=ada%40northwind.example", follow_redirects=False)
            code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
            tokens = await self.p.webex.exchange_code(code=code, redirect_uri=CALLBACK, code_verifier=pkce.verifier)
            self._webex = tokens.access_token
        return self._webex


class Availability(av_grpc.AvailabilityServiceServicer):
    def __init__(self, world: World) -> None:
        self.w = world

    async def GetFreeBusy(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.w.calls.append(("GetFreeBusy", request.email))
        start, end = from_timestamp(request.window.start_time), from_timestamp(request.window.end_time)
        assert start and end
        periods = [
            av_pb.BusyPeriod(start_time=to_timestamp(s), end_time=to_timestamp(e), source=av_res.SOURCE_PROVIDER_FREE_BUSY,
                             status=av_res.BUSY_STATUS_BUSY)
            for s, e in self.w.busy.get(request.email, []) if s < end and start < e
        ]
        return av_pb.GetFreeBusyResponse(busy_periods=periods, diagnostics=av_res.MemberDiagnostics(
            email=request.email, status=av_res.MemberDiagnostics.STATUS_OK))


class StandIns:
    """The three stand-ins on one gRPC server (port 0); ``address`` once started."""

    def __init__(self, world: World, sandbox_url: str, google_service_account: dict[str, Any]) -> None:
        self.world = world
        self.http = ProviderHttp()
        self.providers = Providers(self.http, ProviderEndpoints.sandbox(sandbox_url), APPS)
        self.identity = Identity(world, self.providers, sandbox_url)
        self.identity.service_account = google_service_account
        self.server: grpc.aio.Server | None = None
        self.address = ""

    async def start(self) -> str:
        self.server = grpc.aio.server()
        dir_grpc.add_DirectoryServiceServicer_to_server(Directory(self.world), self.server)
        id_grpc.add_IdentityServiceServicer_to_server(self.identity, self.server)
        av_grpc.add_AvailabilityServiceServicer_to_server(Availability(self.world), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)
        await self.http.aclose()
