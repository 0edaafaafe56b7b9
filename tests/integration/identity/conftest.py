"""The identity service on a real database, the sandbox over HTTP, and an in-test stand-in of
directory's ResolveAccount (directory does not serve it yet): everything through gRPC and HTTP."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest
from grpc_status import rpc_status

from kit.grpc_errors import unpack_error
from kit.settings import DEV_SERVICE_TOKEN
from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as dres
from rendezvous.directory.v1 import directory_service_pb2 as dpb
from rendezvous.directory.v1 import directory_service_pb2_grpc as dgrpc
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as pb_grpc
from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox
from services.identity.bootstrap import IdentityApp, bootstrap
from services.identity.settings import IdentitySettings

AUTH = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),)
ORG = "org-acme"
KEYS = "k1:" + "a" * 43  # 32 bytes of 0x69…: a test key


class MovableClock:
    """Real time plus an offset tests move forward (to expire states, tokens and links)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DirectoryStandIn(dgrpc.DirectoryServiceServicer):
    """DirectoryService's real contract (generated base class), answering ResolveAccount from ``answers``."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], dpb.ResolveAccountResponse] = {}
        self.calls: list[tuple[str, str]] = []

    async def ResolveAccount(
        self, request: dpb.ResolveAccountRequest, context: grpc.aio.ServicerContext
    ) -> dpb.ResolveAccountResponse:
        self.calls.append((request.org_unit_id, request.email))
        return self.answers.get((request.org_unit_id, request.email), dpb.ResolveAccountResponse())

    def serve(self, email: str, mode: str, provider: str = "", credential_id: str = "",
              account: dres.Account | None = None, state: str = "ACTIVE", org: str = ORG) -> None:  # fmt: skip
        route = dres.CalendarRoute(
            calendar_connection_id=f"conn-{email.split('@')[1]}",
            provider=common_pb2.Provider.Value(f"PROVIDER_{provider or 'UNSPECIFIED'}"),
            access_mode=common_pb2.CalendarAccessMode.Value(f"CALENDAR_ACCESS_MODE_{mode}"),
            credential_id=credential_id,
            state=dres.CalendarConnection.State.Value(f"STATE_{state}"),
        )
        self.answers[(org, email)] = dpb.ResolveAccountResponse(account=account, calendar=route)


@dataclass
class Harness:
    app: IdentityApp
    stub: pb_grpc.IdentityServiceStub
    http: httpx.AsyncClient
    admin: SandboxAdmin
    sandbox: SandboxHandle
    directory: DirectoryStandIn
    base_url: str
    clock: MovableClock
    extra: dict[str, Any] = field(default_factory=dict)
    last_callback: str = ""

    async def start(self, provider: str, purpose: str, mode: str = "", *, grant: str = "", login_hint: str = "",
                    return_uri: str = "", org: str = ORG) -> res.Authorization:  # fmt: skip
        request = pb.StartAuthorizationRequest(
            org_unit_id=org,
            provider=common_pb2.Provider.Value(f"PROVIDER_{provider}"),
            purpose=res.Purpose.Value(f"PURPOSE_{purpose}"),
            access_mode=common_pb2.CalendarAccessMode.Value(f"CALENDAR_ACCESS_MODE_{mode or 'UNSPECIFIED'}"),
            grant=common_pb2.AuthorizationGrant.Value(f"AUTHORIZATION_GRANT_{grant or 'UNSPECIFIED'}"),
            login_hint=login_hint,
            return_uri=return_uri,
        )
        return (await self.stub.StartAuthorization(request, metadata=AUTH)).authorization

    async def consent(self, authorization: res.Authorization, user: str) -> httpx.Response:
        """The browser: open the provider URL as ``user``, then follow its redirect to identity's callback."""
        url = authorization.authorization_url
        if "login_hint=" not in url:
            url += f"&login_hint={user}"
        at_provider = await self.http.get(url)
        assert at_provider.status_code == 302, at_provider.text
        callback = at_provider.headers["location"]
        assert callback.startswith(self.base_url + "/oauth/callback?"), callback
        self.last_callback = callback
        return await self.http.get(callback)

    async def connect(self, provider: str, purpose: str, mode: str, user: str, **kw: Any) -> res.Credential:
        """A full code flow; the stored credential."""
        authorization = await self.start(provider, purpose, mode, login_hint=user, **kw)
        page = await self.consent(authorization, user)
        assert page.status_code in (200, 303), page.text
        done = await self.stub.GetAuthorization(
            pb.GetAuthorizationRequest(org_unit_id=ORG, authorization_id=authorization.id), metadata=AUTH)
        assert done.authorization.state == res.Authorization.STATE_COMPLETED, done.authorization.failure_message
        got = await self.stub.GetCredential(
            pb.GetCredentialRequest(org_unit_id=ORG, credential_id=done.authorization.credential_id), metadata=AUTH)
        return got.credential

    async def token(self, credential_id: str, subject: str = "", org: str = ORG,
                    rejected: str = "") -> pb.GetAccessTokenResponse:  # fmt: skip
        return await self.stub.GetAccessToken(
            pb.GetAccessTokenRequest(org_unit_id=org, credential_id=credential_id, subject=subject,
                                     rejected_access_token=rejected), metadata=AUTH)  # fmt: skip


async def rpc_error(call: Any) -> tuple[grpc.StatusCode, str, dict[str, str], list[tuple[str, str]]]:
    """Await a call expected to fail: (code, reason, metadata, field violations)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    info, violations = unpack_error(rpc_status.from_call(caught.value))
    assert info is not None
    assert info.domain == "identity.rendezvous"
    return caught.value.code(), info.reason, dict(info.metadata), violations


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox() as handle:
        yield handle


@pytest.fixture
async def directory_stand_in() -> AsyncIterator[tuple[DirectoryStandIn, str]]:
    servicer = DirectoryStandIn()
    server = grpc.aio.server()
    dgrpc.add_DirectoryServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(0)


def identity_settings(database_url: str, sandbox_url: str, directory_address: str, **overrides: Any) -> IdentitySettings:
    http_port = free_port()
    values: dict[str, Any] = dict(
        port=0, http_port=http_port, public_url=f"http://127.0.0.1:{http_port}", database_url=database_url,
        access_log=False, sandbox_url=sandbox_url, directory_address=directory_address, encryption_keys=KEYS,
        provider_timeout_seconds=2.0, provider_max_retries=0, smtp_port=free_port(),
    )  # fmt: skip
    values.update(overrides)
    return IdentitySettings(**values)


@pytest.fixture
async def identity(database_url, sandbox, directory_stand_in) -> AsyncIterator[Harness]:
    servicer, address = directory_stand_in
    settings = identity_settings(database_url, sandbox.base_url, address)
    async with harness(settings, sandbox, servicer) as running:
        yield running


@asynccontextmanager
async def harness(settings: IdentitySettings, sandbox: SandboxHandle, directory: DirectoryStandIn,
                  clock: MovableClock | None = None) -> AsyncIterator[Harness]:  # fmt: skip
    clock = clock or MovableClock()
    app = await bootstrap(settings, clock=clock, background=False)
    port = await app.server.start()
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
            httpx.AsyncClient(follow_redirects=False, timeout=10) as http,
            SandboxAdmin(sandbox.base_url) as admin,
        ):
            yield Harness(app, pb_grpc.IdentityServiceStub(channel), http, admin, sandbox, directory,
                          settings.public_url, clock)  # fmt: skip
    finally:
        await app.server.stop(grace=0)
