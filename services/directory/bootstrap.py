"""Wiring of the directory service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.clock import Clock, IdGenerator, SystemClock, UuidGenerator
from kit.db import create_engine, is_postgres, session_factory
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from providers import ProviderEndpoints, ProviderHttp, Providers
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from services.directory.adapters.background import Loop, TaskSpawner
from services.directory.adapters.conferencing import ProviderConferencingDirectory
from services.directory.adapters.directories import ProviderDirectoryReader
from services.directory.adapters.graph_extra import PagedGraphDirectory
from services.directory.adapters.grpc_api import SERVICE_NAME, DirectoryServicer
from services.directory.adapters.identity_grpc import GrpcIdentity
from services.directory.adapters.routing_cache import RoutingCache
from services.directory.adapters.sql import DirectoryUnitOfWork, plan_each_query
from services.directory.adapters.sql_accounts import sqlite_sync_lookups
from services.directory.adapters.sql_routing import SqlRoutingReads
from services.directory.ports import ConferencingDirectory, DirectoryReader, Identity
from services.directory.settings import DirectorySettings
from services.directory.usecases import (
    AccountsUseCases,
    ConnectionsUseCases,
    OrganizationalUnitsUseCases,
    ResolveUseCases,
    SyncSettings,
    SyncUseCases,
)

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "directory.rendezvous"


class DirectoryServer(KitServer):
    """The kit server plus the background loops, started with it and stopped before its hooks."""

    def __init__(self, *args: Any, loops: list[Loop], spawner: TaskSpawner, background: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loops = loops
        self.spawner = spawner
        self._background = background

    async def start(self) -> int:
        port = await super().start()
        if self._background:
            for loop in self.loops:
                loop.start()
        return port

    async def stop(self, grace: float | None = None) -> None:
        for loop in self.loops:
            await loop.stop()
        await self.spawner.stop()
        await super().stop(grace)


@dataclass
class DirectoryApp:
    settings: DirectorySettings
    server: KitServer
    engine: AsyncEngine
    units: OrganizationalUnitsUseCases
    connections: ConnectionsUseCases
    accounts: AccountsUseCases
    resolve: ResolveUseCases
    sync: SyncUseCases
    spawner: TaskSpawner
    routing: RoutingCache
    extras: dict[str, Any] = field(default_factory=dict)


async def bootstrap(
    settings: DirectorySettings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    migrate: bool = True,
    identity: Identity | None = None,
    reader: DirectoryReader | None = None,
    conferencing: ConferencingDirectory | None = None,
    provider_http: ProviderHttp | None = None,
) -> DirectoryApp:
    """Build the service; clock, ids, identity and the provider-facing adapters may be replaced."""
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    clock = clock or SystemClock()
    ids = ids or UuidGenerator()
    engine = create_engine(settings.database_url, pool_pre_ping=settings.database_pool_pre_ping)
    if is_postgres(settings.database_url):
        plan_each_query(engine)
    sessions = session_factory(engine)
    stop_hooks: list[Any] = []
    lookups = sqlite_sync_lookups(settings.database_url)
    if lookups is not None:
        stop_hooks.append(lookups.aclose)

    routing = RoutingCache(SqlRoutingReads(settings.database_url, engine), settings.database_url,
                           entries=settings.routing_cache_entries, quiet_seconds=settings.routing_cache_quiet_seconds)  # fmt: skip
    stop_hooks.append(routing.close)

    def uow() -> DirectoryUnitOfWork:
        return DirectoryUnitOfWork(sessions, lookups, on_commit=routing.committed)

    if identity is None:
        grpc_identity = GrpcIdentity(settings.identity_address, settings.service_token, settings.peer_deadline_seconds)
        stop_hooks.append(grpc_identity.close)
        identity = grpc_identity
    endpoints = ProviderEndpoints.sandbox(settings.sandbox_url) if settings.sandbox_url else ProviderEndpoints()
    if provider_http is None:
        provider_http = ProviderHttp()
        stop_hooks.append(provider_http.aclose)
    providers = Providers(provider_http, endpoints)
    reader = reader or ProviderDirectoryReader(providers, endpoints)
    conferencing = conferencing or ProviderConferencingDirectory(providers, PagedGraphDirectory(provider_http, endpoints))

    spawner = TaskSpawner()
    scheduler_wake: list[Loop] = []

    def wake_scheduler() -> None:
        for loop in scheduler_wake:
            loop.wake()

    units = OrganizationalUnitsUseCases(uow, clock, ids, settings.default_invite_sender)
    connections = ConnectionsUseCases(uow, identity, clock, ids, on_directory_active=wake_scheduler)
    accounts = AccountsUseCases(uow, clock, ids)
    link_ttl = timedelta(hours=settings.conferencing_link_hours)
    resolve = ResolveUseCases(routing, uow, identity, conferencing, connections, clock, link_ttl=link_ttl)
    sync = SyncUseCases(
        uow, reader, identity, connections, spawner, clock, ids,
        SyncSettings(
            holder=f"{socket.gethostname()}:{os.getpid()}",
            lease=timedelta(seconds=settings.sync_lease_seconds),
            page_size=settings.sync_page_size,
            full_sync_interval=timedelta(hours=settings.full_sync_hours),
        ),
    )  # fmt: skip

    async def maintain() -> None:
        await connections.poll_pending()
        await connections.retry_revocations()

    scheduler = Loop("directory-sync-scheduler", sync.run_due, settings.scheduler_interval_seconds)
    scheduler_wake.append(scheduler)
    loops = [scheduler, Loop("directory-maintainer", maintain, settings.poll_interval_seconds)]

    servicer = DirectoryServicer(units, connections, accounts, resolve, sync)
    server = DirectoryServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_DirectoryServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[*stop_hooks, engine.dispose],
        loops=loops,
        spawner=spawner,
        background=settings.background_enabled,
    )
    return DirectoryApp(settings, server, engine, units, connections, accounts, resolve, sync, spawner, routing)


def main() -> None:
    run_service(DirectorySettings.from_env(), bootstrap)
