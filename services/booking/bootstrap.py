"""Wiring of the booking service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.db import create_engine
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from rendezvous.booking.v1 import booking_service_pb2 as pb
from rendezvous.booking.v1 import booking_service_pb2_grpc as pb_grpc
from services.booking.settings import BookingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "booking.rendezvous"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["BookingService"].full_name


class BookingServicer(pb_grpc.BookingServiceServicer):
    """Every RPC of the contract; those not built yet answer UNIMPLEMENTED through the kit."""


@dataclass
class BookingApp:
    settings: BookingSettings
    server: KitServer
    engine: AsyncEngine


async def bootstrap(settings: BookingSettings, *, migrate: bool = True) -> BookingApp:
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url)
    servicer = BookingServicer()
    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_BookingServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[engine.dispose],
    )
    return BookingApp(settings, server, engine)


def main() -> None:
    run_service(BookingSettings.from_env(), bootstrap)
