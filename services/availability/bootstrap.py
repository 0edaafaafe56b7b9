"""Wiring of the availability service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.channels import peer_channel
from kit.clock import Clock, SystemClock
from kit.db import create_engine, session_factory
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from providers import ProviderEndpoints, ProviderHttp, Providers, RetryPolicy, Timeouts
from rendezvous.availability.v1 import availability_service_pb2_grpc as pb_grpc
from services.availability.adapters.calendars import ProviderCalendars
from services.availability.adapters.grpc_api import SERVICE_NAME, AvailabilityServicer
from services.availability.adapters.peers import BookingClient, DirectoryClient, IdentityClient
from services.availability.adapters.sql import AvailabilityUnitOfWork
from services.availability.cache import FreeBusyCache
from services.availability.ports import Bookings, CalendarFreeBusy, Directory, Identity, Monotonic
from services.availability.settings import AvailabilitySettings
from services.availability.sources import SourceReader
from services.availability.usecases import AvailabilityUseCases, RulesUseCases

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "availability.rendezvous"


@dataclass
class AvailabilityApp:
    settings: AvailabilitySettings
    server: KitServer
    engine: AsyncEngine
    rules: RulesUseCases
    availability: AvailabilityUseCases
    cache: FreeBusyCache
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def provider_http(settings: AvailabilitySettings) -> ProviderHttp:
    """The provider HTTP client with the service's timeouts and retry budget."""
    read = settings.provider_timeout_seconds
    return ProviderHttp(
        timeouts=Timeouts(connect=min(5.0, read), read=read, write=read, pool=min(5.0, read)),
        retry=RetryPolicy(
            max_retries=settings.provider_max_retries,
            max_retry_wait=settings.provider_max_retry_wait_seconds,
            base_backoff=settings.provider_retry_backoff_seconds,
            max_backoff=max(settings.provider_retry_backoff_seconds, 4.0),
        ),
    )


async def bootstrap(
    settings: AvailabilitySettings,
    *,
    directory: Directory | None = None,
    identity: Identity | None = None,
    bookings: Bookings | None = None,
    calendars: CalendarFreeBusy | None = None,
    clock: Clock | None = None,
    monotonic: Monotonic | None = None,
    migrate: bool = True,
) -> AvailabilityApp:
    """Build the service; every outbound port may be replaced (tests pass fakes or stand-ins)."""
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url, pool_pre_ping=settings.database_pool_pre_ping)
    sessions = session_factory(engine)
    closers: list[Callable[[], Awaitable[None]]] = []
    channels: list[grpc.aio.Channel] = []

    def channel(address: str) -> grpc.aio.Channel:
        made = peer_channel(address, settings.service_token, settings.peer_deadline_seconds)
        channels.append(made)
        return made

    if calendars is None:
        http = provider_http(settings)
        closers.append(http.aclose)
        endpoints = ProviderEndpoints.sandbox(settings.sandbox_url) if settings.sandbox_url else ProviderEndpoints()
        calendars = ProviderCalendars(Providers(http, endpoints))
    directory = directory or DirectoryClient(channel(settings.directory_address))
    identity = identity or IdentityClient(channel(settings.identity_address))
    bookings = bookings or BookingClient(channel(settings.booking_address))
    for made in channels:
        closers.append(made.close)

    def uow() -> AvailabilityUnitOfWork:
        return AvailabilityUnitOfWork(sessions)

    cache = FreeBusyCache(settings.free_busy_cache_seconds, monotonic or time.monotonic)
    reader = SourceReader(directory, identity, bookings, calendars, uow, cache, settings.provider_timeout_seconds)
    rules = RulesUseCases(uow, directory, clock or SystemClock())
    availability = AvailabilityUseCases(reader)
    servicer = AvailabilityServicer(rules, availability)
    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_AvailabilityServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[*closers, engine.dispose],
    )
    return AvailabilityApp(settings, server, engine, rules, availability, cache, closers)


def main() -> None:
    run_service(AvailabilitySettings.from_env(), bootstrap)
