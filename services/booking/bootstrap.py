"""Wiring of the booking service: ``bootstrap(settings, **overrides)`` builds it, ``main()`` runs it.

Besides the gRPC server it runs three things in the same event loop, all stopped on shutdown: the
outbox dispatcher (mail over SMTP), the provider retry worker (native events, conferencing) and the
inbound SMTP listener for attendees' replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from kit.app import run_service
from kit.channels import peer_channel
from kit.clock import Clock, IdGenerator, SystemClock, UuidGenerator
from kit.db import create_engine, is_postgres, is_sqlite, session_factory
from kit.grpc_server import Binding, KitServer
from kit.migrations import upgrade
from providers import ProviderEndpoints, ProviderHttp, Providers, RetryPolicy, Timeouts
from rendezvous.booking.v1 import booking_service_pb2_grpc as pb_grpc
from services.booking.adapters.calendar_events import ProviderCalendarEvents
from services.booking.adapters.conferencing import ProviderMeetings
from services.booking.adapters.grpc_api import SERVICE_NAME, BookingServicer
from services.booking.adapters.inbound_smtp import InboundSmtpServer
from services.booking.adapters.outbox_dispatcher import Backoff, OutboxDispatcher
from services.booking.adapters.outbox_sql import SqlOutboxRepository
from services.booking.adapters.peers import GrpcAvailability, GrpcDirectory, GrpcIdentity
from services.booking.adapters.smtp import SmtpTransport
from services.booking.adapters.sql import BookingUnitOfWork, serialize_sqlite_writes
from services.booking.adapters.worker import PeriodicWorker
from services.booking.invites.ports import MailTransport
from services.booking.ports import (
    Availability,
    CalendarEvents,
    ConferencingMeetings,
    Directory,
    Identity,
    UnitOfWork,
)
from services.booking.settings import BookingSettings
from services.booking.usecases.change import CancelBooking, UpdateBooking
from services.booking.usecases.common import Deps
from services.booking.usecases.common import RetryPolicy as BookingRetryPolicy
from services.booking.usecases.create import CreateBooking
from services.booking.usecases.delivery import ProviderWork
from services.booking.usecases.mail import ImipComposer
from services.booking.usecases.queries import BookingQueries
from services.booking.usecases.replies import IngestEmail

MIGRATIONS = Path(__file__).parent / "migrations"
ERROR_DOMAIN = "booking.rendezvous"


@dataclass
class BookingApp:
    settings: BookingSettings
    server: KitServer
    engine: AsyncEngine
    deps: Deps
    work: ProviderWork
    create: CreateBooking
    update: UpdateBooking
    cancel: CancelBooking
    queries: BookingQueries
    ingest: IngestEmail
    outbox: SqlOutboxRepository
    dispatcher: OutboxDispatcher | None
    worker: PeriodicWorker | None
    inbound: InboundSmtpServer | None
    extras: dict[str, Any] = field(default_factory=dict)


async def bootstrap(
    settings: BookingSettings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    identity: Identity | None = None,
    directory: Directory | None = None,
    availability: Availability | None = None,
    events: CalendarEvents | None = None,
    meetings: ConferencingMeetings | None = None,
    mail_transport: MailTransport | None = None,
    migrate: bool = True,
) -> BookingApp:
    """Build the service; every outbound port may be replaced (tests, benchmarks)."""
    if migrate:
        await upgrade(MIGRATIONS, settings.database_url)
    engine = create_engine(settings.database_url, pool_pre_ping=settings.database_pool_pre_ping)
    if is_sqlite(settings.database_url):
        serialize_sqlite_writes(engine)
    sessions = session_factory(engine)
    postgres = is_postgres(settings.database_url)
    clock = clock or SystemClock()
    ids = ids or UuidGenerator()
    closers: list[Any] = []

    def channel(address: str) -> grpc.aio.Channel:
        opened = peer_channel(address, settings.service_token, settings.peer_deadline_seconds)
        closers.append(opened.close)
        return opened

    http = ProviderHttp(
        timeouts=Timeouts(connect=settings.provider_connect_timeout_seconds, read=settings.provider_timeout_seconds,
                          write=settings.provider_timeout_seconds),
        retry=RetryPolicy(max_retries=settings.provider_max_retries, base_backoff=settings.provider_retry_base_seconds),
    )
    endpoints = ProviderEndpoints.sandbox(settings.sandbox_url) if settings.sandbox_url else ProviderEndpoints()
    providers = Providers(http, endpoints)

    def unit_of_work(*, write: bool = False) -> UnitOfWork:
        return BookingUnitOfWork(sessions, postgres=postgres, write=write)

    deps = Deps(
        uow=unit_of_work,
        identity=identity or GrpcIdentity(channel(settings.identity_address)),
        directory=directory or GrpcDirectory(channel(settings.directory_address), settings.default_invite_sender),
        availability=availability or GrpcAvailability(channel(settings.availability_address)),
        events=events or ProviderCalendarEvents(providers),
        meetings=meetings or ProviderMeetings(providers),
        composer=ImipComposer(ids),
        clock=clock,
        ids=ids,
        policy=BookingRetryPolicy(
            conferencing_inline_attempts=settings.conferencing_inline_attempts,
            conferencing_max_attempts=settings.conferencing_max_attempts,
            delivery_max_attempts=settings.delivery_max_attempts,
            base_seconds=settings.retry_base_seconds,
            cap_seconds=settings.retry_cap_seconds,
            lease_seconds=settings.lease_seconds,
        ),
    )
    work = ProviderWork(deps)
    outbox = SqlOutboxRepository(sessions, postgres=postgres, settlement_connections=settings.outbox_connections)
    dispatcher = worker = inbound = None
    if settings.workers_enabled:
        dispatcher = OutboxDispatcher(
            outbox, mail_transport or SmtpTransport(settings.smtp_host, settings.smtp_port),
            clock=clock, batch_size=settings.outbox_batch_size, lease_seconds=settings.lease_seconds,
            poll_interval=settings.outbox_poll_seconds, connections=settings.outbox_connections,
            backoff=Backoff(base_seconds=settings.outbox_retry_base_seconds, cap_seconds=settings.outbox_retry_cap_seconds),
            max_attempts=settings.outbox_max_attempts or None,
        )
        deps.mail_queued = dispatcher.wake
        worker = PeriodicWorker(work.run_due, settings.worker_poll_seconds, "booking-provider-retries")
    create, update, cancel = CreateBooking(deps, work), UpdateBooking(deps, work), CancelBooking(deps, work)
    queries, ingest = BookingQueries(deps), IngestEmail(deps)

    async def on_smtp_message(raw: bytes) -> object:
        return await ingest(raw, source="smtp")

    if settings.inbound_smtp_enabled:
        inbound = InboundSmtpServer(on_smtp_message, host=settings.inbound_smtp_host, port=settings.inbound_smtp_port)
        await inbound.start()
    if dispatcher is not None:
        dispatcher.start()
    if worker is not None:
        worker.start()

    async def stop_background() -> None:
        if inbound is not None:
            await inbound.stop()
        if dispatcher is not None:
            await dispatcher.stop()
        if worker is not None:
            await worker.stop()
        await outbox.close()
        for close in closers:
            await close()
        await http.aclose()

    servicer = BookingServicer(create, update, cancel, queries, ingest)
    server = KitServer(
        settings,
        [Binding(SERVICE_NAME, lambda s: pb_grpc.add_BookingServiceServicer_to_server(servicer, s))],
        error_domain=ERROR_DOMAIN,
        on_stop=[stop_background, engine.dispose],
    )
    return BookingApp(settings, server, engine, deps, work, create, update, cancel, queries, ingest, outbox,
                      dispatcher, worker, inbound)


def main() -> None:
    run_service(BookingSettings.from_env(), bootstrap)
