"""Wiring of the identity service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.db import create_engine
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from rendezvous.identity.v1 import identity_service_pb2 as pb
from rendezvous.identity.v1 import identity_service_pb2_grpc as pb_grpc
from services.identity.settings import IdentitySettings

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "identity.rendezvous"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IdentityService"].full_name


class IdentityServicer(pb_grpc.IdentityServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED through the kit."""


@dataclass
class IdentityApp:
    settings: IdentitySettings
    server: KitServer
    engine: AsyncEngine


async def bootstrap(settings: IdentitySettings, *, migrate: bool = True) -> IdentityApp:
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url)
    servicer = IdentityServicer()
    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_IdentityServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[engine.dispose],
    )
    return IdentityApp(settings, server, engine)


def main() -> None:
    run_service(IdentitySettings.from_env(), bootstrap)
