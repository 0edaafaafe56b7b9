"""Wiring of the directory service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.clock import Clock, IdGenerator, SystemClock, UuidGenerator
from kit.db import create_engine, session_factory
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from rendezvous.directory.v1 import directory_service_pb2_grpc as pb_grpc
from services.directory.adapters.grpc_api import SERVICE_NAME, DirectoryServicer
from services.directory.adapters.sql import DirectoryUnitOfWork
from services.directory.settings import DirectorySettings
from services.directory.usecases import OrganizationalUnitsUseCases

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "directory.rendezvous"


@dataclass
class DirectoryApp:
    settings: DirectorySettings
    server: KitServer
    engine: AsyncEngine
    units: OrganizationalUnitsUseCases
    extras: dict[str, Any] = field(default_factory=dict)


async def bootstrap(
    settings: DirectorySettings, *, clock: Clock | None = None, ids: IdGenerator | None = None, migrate: bool = True
) -> DirectoryApp:
    """Build the service; ``clock``/``ids`` may be replaced by tests."""
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    units = OrganizationalUnitsUseCases(
        lambda: DirectoryUnitOfWork(sessions), clock or SystemClock(), ids or UuidGenerator(), settings.default_invite_sender
    )
    servicer = DirectoryServicer(units)
    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_DirectoryServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[engine.dispose],
    )
    return DirectoryApp(settings, server, engine, units)


def main() -> None:
    run_service(DirectorySettings.from_env(), bootstrap)
