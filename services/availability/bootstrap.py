"""Wiring of the availability service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.db import create_engine
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from rendezvous.availability.v1 import availability_service_pb2 as pb
from rendezvous.availability.v1 import availability_service_pb2_grpc as pb_grpc
from services.availability.settings import AvailabilitySettings

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "availability.rendezvous"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AvailabilityService"].full_name


class AvailabilityServicer(pb_grpc.AvailabilityServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED through the kit."""


@dataclass
class AvailabilityApp:
    settings: AvailabilitySettings
    server: KitServer
    engine: AsyncEngine


async def bootstrap(settings: AvailabilitySettings, *, migrate: bool = True) -> AvailabilityApp:
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url)
    servicer = AvailabilityServicer()
    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_AvailabilityServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[engine.dispose],
    )
    return AvailabilityApp(settings, server, engine)


def main() -> None:
    run_service(AvailabilitySettings.from_env(), bootstrap)
