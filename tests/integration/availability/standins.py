"""Small in-test gRPC stand-ins of directory, identity and booking, on their real contracts.

They answer what the test sets, and identity's tokens are real: obtained from the sandbox's own OAuth
endpoints with the demo clients (Google service-account delegation or the code flow, Microsoft client
credentials). Used until those services run for real; the availability service talks to them exactly
as it would to the real ones (generated stubs, service token, deadlines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import grpc
import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from kit import errors
from kit.grpc_errors import to_status
from providers import OAuthApp, ProviderApps, ProviderEndpoints, ProviderHttp, Providers
from providers.oauth import new_pkce
from rendezvous.booking.v1 import booking_service_pb2 as booking_pb
from rendezvous.booking.v1 import booking_service_pb2_grpc as booking_grpc
from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as directory_res
from rendezvous.directory.v1 import directory_service_pb2 as directory_pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as directory_grpc
from rendezvous.identity.v1 import identity_resources_pb2 as identity_res
from rendezvous.identity.v1 import identity_service_pb2 as identity_pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as identity_grpc

FIXTURES = Path(__file__).resolve().parents[3] / "libs" / "sandbox" / "fixtures" / "demo"
ORG = "org-demo"
MS_TENANT = "11111111-1111-1111-1111-111111111111"
GOOGLE_APP = OAuthApp("rendezvous-google-client", "rendezvous-google-secret")
MS_APP = OAuthApp("rendezvous-ms-client", "rendezvous-ms-secret")
GOOGLE_SCOPES: dict[Any, list[str]] = {
    common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE: ["https://www.googleapis.com/auth/calendar"],
    common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY: ["https://www.googleapis.com/auth/calendar.events.freebusy"],
}


async def _abort(context: grpc.aio.ServicerContext, error: errors.RendezvousError, domain: str) -> None:
    await context.abort_with_status(to_status(error, domain))


def route(
    connection_id: str,
    provider: Any,
    mode: Any,
    credential_id: str = "",
    state: Any = directory_res.CalendarConnection.STATE_ACTIVE,
) -> directory_res.CalendarRoute:
    return directory_res.CalendarRoute(
        calendar_connection_id=connection_id, provider=provider, access_mode=mode, credential_id=credential_id, state=state
    )


GOOGLE_READ_WRITE = route("conn-google", common_pb2.PROVIDER_GOOGLE, common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE, "cred-google")
MICROSOFT_FREE_BUSY = route("conn-ms", common_pb2.PROVIDER_MICROSOFT, common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY, "cred-ms")
NO_ACCESS = route("conn-none", common_pb2.PROVIDER_UNSPECIFIED, common_pb2.CALENDAR_ACCESS_MODE_NO_ACCESS)


class StandInDirectory(directory_grpc.DirectoryServiceServicer):
    """ResolveAccount from a domain → route map and an email → account-state map."""

    def __init__(self) -> None:
        self.units = {ORG}
        self.routes: dict[str, directory_res.CalendarRoute] = {
            "northwind.example": GOOGLE_READ_WRITE,
            "contoso.example": MICROSOFT_FREE_BUSY,
            "fabrikam.example": NO_ACCESS,
        }
        self.suspended: set[str] = set()
        self.calls = 0

    async def ResolveAccount(self, request: directory_pb.ResolveAccountRequest, context: grpc.aio.ServicerContext) -> directory_pb.ResolveAccountResponse:
        self.calls += 1
        if request.org_unit_id not in self.units:
            await _abort(
                context,
                errors.NotFound("no such unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND", metadata={"org_unit_id": request.org_unit_id}),
                "directory.rendezvous",
            )
        answer = directory_pb.ResolveAccountResponse()
        email = request.email.lower()
        calendar = self.routes.get(email.rsplit("@", 1)[-1])
        if calendar is not None:
            answer.calendar.CopyFrom(calendar)
            state = directory_res.Account.STATE_SUSPENDED if email in self.suspended else directory_res.Account.STATE_ACTIVE
            answer.account.CopyFrom(directory_res.Account(id=f"acct-{email}", org_unit_id=ORG, email=email, state=state))
        return answer


@dataclass
class StandInCredential:
    provider: Any
    kind: Any
    mode: Any
    subject_email: str = ""


class StandInIdentity(identity_grpc.IdentityServiceServicer):
    """GetCredential and GetAccessToken with real sandbox tokens (cached per credential and subject)."""

    def __init__(self, sandbox_url: str) -> None:
        self.sandbox_url = sandbox_url
        self.http = ProviderHttp()
        self.providers = Providers(self.http, ProviderEndpoints.sandbox(sandbox_url), ProviderApps(google=GOOGLE_APP, microsoft=MS_APP))
        self.credentials: dict[str, StandInCredential] = {
            "cred-google": StandInCredential(
                common_pb2.PROVIDER_GOOGLE, identity_res.Credential.KIND_ORGANIZATION_WIDE, common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE
            ),
            "cred-ms": StandInCredential(
                common_pb2.PROVIDER_MICROSOFT, identity_res.Credential.KIND_ORGANIZATION_WIDE, common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY
            ),
        }
        self.refuse: dict[str, errors.RendezvousError] = {}
        self.token_requests: list[tuple[str, str]] = []
        self.rejected: list[str] = []  # rejected_access_token hints received
        self._tokens: dict[tuple[str, str], str] = {}
        key = json.loads((FIXTURES / "google.json").read_text())["service_accounts"][0]
        self._service_account = {k: v for k, v in key.items() if not k.startswith("_")}

    async def aclose(self) -> None:
        await self.http.aclose()

    def token(self, credential_id: str, subject: str = "") -> str:
        """The token last handed out for a credential (and subject)."""
        return self._tokens[(credential_id, subject)]

    async def GetCredential(self, request: identity_pb.GetCredentialRequest, context: grpc.aio.ServicerContext) -> identity_pb.GetCredentialResponse:
        found = self.credentials.get(request.credential_id)
        if found is None:
            await _abort(context, errors.NotFound("no such credential", reason="CREDENTIAL_NOT_FOUND"), "identity.rendezvous")
        assert found is not None
        return identity_pb.GetCredentialResponse(
            credential=identity_res.Credential(
                id=request.credential_id,
                org_unit_id=request.org_unit_id,
                provider=found.provider,
                kind=found.kind,
                access_mode=found.mode,
                subject_email=found.subject_email,
                state=identity_res.Credential.STATE_ACTIVE,
            )
        )

    async def GetAccessToken(self, request: identity_pb.GetAccessTokenRequest, context: grpc.aio.ServicerContext) -> identity_pb.GetAccessTokenResponse:
        self.token_requests.append((request.credential_id, request.subject))
        if request.credential_id in self.refuse:
            await _abort(context, self.refuse[request.credential_id], "identity.rendezvous")
        found = self.credentials[request.credential_id]
        key = (request.credential_id, request.subject)
        token = self._tokens.get(key)
        if request.rejected_access_token:
            self.rejected.append(request.rejected_access_token)
            if request.rejected_access_token == token:  # as identity does: refresh the refused current token
                token = None
        if token is None:
            token = self._tokens[key] = await self._fetch(found, request.subject)
        return identity_pb.GetAccessTokenResponse(access_token=token, token_type="Bearer")

    async def _fetch(self, credential: StandInCredential, subject: str) -> str:
        if credential.provider == common_pb2.PROVIDER_MICROSOFT:
            return (await self.providers.microsoft.identity.client_credentials(MS_TENANT)).access_token
        scopes = GOOGLE_SCOPES[credential.mode]
        if credential.kind == identity_res.Credential.KIND_ORGANIZATION_WIDE:
            return (await self.providers.google.oauth.service_account_token(self._service_account, subject or None, scopes)).access_token
        return await self._google_code_flow(credential.subject_email, scopes)

    async def _google_code_flow(self, user: str, scopes: list[str]) -> str:
        """The web-server flow against the sandbox, acting as ``user`` (it consents without a page)."""
        pkce = new_pkce()
        redirect = "http://127.0.0.1:9/oauth/callback"
        url = self.providers.google.oauth.authorization_url(
            redirect_uri=redirect, scopes=["email", "profile", *scopes], state="s", code_verifier=pkce.verifier, login_hint=user
        )
        async with httpx.AsyncClient(follow_redirects=False) as client:
            answer = await client.get(url)
        code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
        tokens = await self.providers.google.oauth.exchange_code(code=code, redirect_uri=redirect, code_verifier=pkce.verifier)
        return tokens.access_token


@dataclass
class StandInBooking(booking_grpc.BookingServiceServicer):
    """ListBusyPeriods over a list the test fills: (email, start, end, booking_id), paged by page_size."""

    periods: list[tuple[str, int, int, str]] = field(default_factory=list)
    requests: list[booking_pb.ListBusyPeriodsRequest] = field(default_factory=list)
    fail: errors.RendezvousError | None = None

    async def ListBusyPeriods(self, request: booking_pb.ListBusyPeriodsRequest, context: grpc.aio.ServicerContext) -> booking_pb.ListBusyPeriodsResponse:
        self.requests.append(request)
        if self.fail is not None:
            await _abort(context, self.fail, "booking.rendezvous")
        lo, hi = request.window.start_time.seconds, request.window.end_time.seconds
        if not lo < hi <= lo + 42 * 86400 or not 1 <= len(request.emails) <= 50:
            await _abort(context, errors.InvalidArgument.field("window", "must end after it starts and span at most 42 days"), "booking.rendezvous")
        wanted = {e.lower() for e in request.emails}
        rows = sorted((e, s, t, b) for e, s, t, b in self.periods if e in wanted and s < hi and t > lo)
        offset = int(request.page_token or 0)
        size = request.page_size or 1000
        page = rows[offset : offset + size]
        more = offset + size < len(rows)
        return booking_pb.ListBusyPeriodsResponse(
            busy_periods=[
                booking_pb.BusyPeriod(email=e, start_time=Timestamp(seconds=s), end_time=Timestamp(seconds=t), booking_id=b)
                for e, s, t, b in page
            ],
            next_page_token=str(offset + size) if more else "",
        )


@dataclass
class StandIns:
    directory: StandInDirectory
    identity: StandInIdentity
    booking: StandInBooking
    server: grpc.aio.Server
    address: str


async def start_standins(sandbox_url: str) -> StandIns:
    """Serve the three stand-ins on one port (0 = a free one) of 127.0.0.1."""
    directory, identity, booking = StandInDirectory(), StandInIdentity(sandbox_url), StandInBooking()
    server = grpc.aio.server()
    directory_grpc.add_DirectoryServiceServicer_to_server(directory, server)
    identity_grpc.add_IdentityServiceServicer_to_server(identity, server)
    booking_grpc.add_BookingServiceServicer_to_server(booking, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return StandIns(directory, identity, booking, server, f"127.0.0.1:{port}")


async def stop_standins(standins: StandIns) -> None:
    await standins.server.stop(0)
    await standins.identity.aclose()
