"""Fixtures of the directory's integration tests: the sandbox over HTTP, an identity stand-in over
gRPC (tests rely on it until services/identity is built), and the directory service itself, started
with its own ``bootstrap()`` on the ``database_url`` database (SQLite, and PostgreSQL when configured)
and reached through a real gRPC channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from sqlalchemy import event

from kit.settings import DEV_SERVICE_TOKEN
from providers import ProviderHttp, RetryPolicy
from rendezvous.directory.v1 import directory_resources_pb2 as res
from rendezvous.directory.v1 import directory_service_pb2 as pb
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from sandbox.testing import SandboxAdmin, running_sandbox
from services.directory.bootstrap import DirectoryApp, bootstrap
from services.directory.settings import DirectorySettings

from .identity_standin import IdentityStandin, serve, standin_providers

AUTH = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),)


@dataclass
class Directory:
    """A running directory service and what tests need around it."""

    app: DirectoryApp
    stub: pb_grpc.DirectoryServiceStub
    statements: list[str] = field(default_factory=list)

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.stub, method)(request, metadata=AUTH)

    async def unit(self, name: str = "Acme") -> str:
        answer = await self.call("CreateOrganizationalUnit", pb.CreateOrganizationalUnitRequest(display_name=name))
        return str(answer.organizational_unit.id)

    async def wait(self, unit_id: str, run_id: str) -> res.SyncRun:
        """The run once it has ended (it runs in the background after SyncDirectory answered)."""
        async with asyncio.timeout(60):
            while True:
                run = (await self.call("GetSyncRun", pb.GetSyncRunRequest(org_unit_id=unit_id, sync_run_id=run_id))).sync_run
                if run.state != res.SyncRun.STATE_RUNNING:
                    return run
                await asyncio.sleep(0.02)

    async def sync(self, unit_id: str, connection_id: str, *, force: bool = False, full: bool = False) -> res.SyncRun:
        started = await self.call("SyncDirectory", pb.SyncDirectoryRequest(
            org_unit_id=unit_id, directory_connection_id=connection_id, force=force, full=full))  # fmt: skip
        return await self.wait(unit_id, started.sync_run.id)

    async def accounts(self, unit_id: str) -> dict[str, res.Account]:
        """Every account of the unit by external id (manual ones by email)."""
        found, token = {}, ""
        while True:
            page = await self.call("ListAccounts", pb.ListAccountsRequest(org_unit_id=unit_id, page_size=1000, page_token=token))
            found.update({a.external_id or a.email: a for a in page.accounts})
            token = page.next_page_token
            if not token:
                return found

    def account_writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith(("INSERT INTO ACCOUNTS", "UPDATE ACCOUNTS"))]


@pytest.fixture
async def sandbox() -> AsyncIterator[Any]:
    async with running_sandbox() as handle:
        yield handle


@pytest.fixture
async def admin(sandbox: Any) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sandbox.base_url) as client:
        yield client


@pytest.fixture
async def identity(sandbox: Any, admin: SandboxAdmin) -> AsyncIterator[tuple[IdentityStandin, str]]:
    providers = standin_providers(sandbox.base_url)
    standin = IdentityStandin(sandbox.base_url, providers, admin)
    server, address = await serve(standin)
    yield standin, address
    await server.stop(0)
    await providers.http.aclose()


DirectoryFactory = Callable[..., Awaitable[Directory]]


@pytest.fixture
async def start_directory(database_url: str, sandbox: Any, identity: tuple[IdentityStandin, str]) -> AsyncIterator[DirectoryFactory]:
    """Starts directory replicas on the same database (one is usually enough)."""
    started: list[tuple[DirectoryApp, grpc.aio.Channel, ProviderHttp]] = []

    async def start(**overrides: Any) -> Directory:
        values: dict[str, Any] = {"background_enabled": False, "sync_page_size": 3, "identity_address": identity[1],
                                  **overrides}  # fmt: skip
        settings = DirectorySettings(port=0, database_url=database_url, access_log=False, sandbox_url=sandbox.base_url,
                                     **values)  # fmt: skip
        http = ProviderHttp(retry=RetryPolicy(max_retries=3, base_backoff=0.01, max_backoff=0.05, max_retry_wait=5))
        app = await bootstrap(settings, provider_http=http, migrate=not started)
        port = await app.server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        started.append((app, channel, http))
        directory = Directory(app, pb_grpc.DirectoryServiceStub(channel))
        event.listen(app.engine.sync_engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *rest: directory.statements.append(statement))  # fmt: skip
        return directory

    yield start
    for app, channel, http in started:
        await channel.close()
        await app.server.stop(grace=0)
        await http.aclose()


@pytest.fixture
async def directory(start_directory: DirectoryFactory) -> Directory:
    return await start_directory()


@pytest.fixture
def standin(identity: tuple[IdentityStandin, str]) -> IdentityStandin:
    return identity[0]
