"""The booking service as integration tests drive it: bootstrapped on a real database (SQLite or
PostgreSQL), reached over gRPC on port 0, talking to the sandbox over HTTP, mailing a real SMTP server
(aiosmtpd) and served by the in-test stand-ins of identity, directory and availability."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from icalendar import Calendar

from kit.convert import to_timestamp
from kit.settings import DEV_SERVICE_TOKEN
from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb
from rendezvous.booking.v1 import booking_service_pb2_grpc as pb_grpc
from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox
from services.booking.bootstrap import BookingApp, bootstrap
from services.booking.settings import BookingSettings

from .standins import GOOGLE_DWD, MS_APP, WEBEX_ADA, ZOOM_S2S, Link, Person, StandIns, World
from .test_mail_sink import SmtpSink, running_sink, until

AUTH = (("authorization", f"Bearer {DEV_SERVICE_TOKEN}"),)
ORG = "org-1"
SENDER = "invites@mail.rendezvous.example"
FIXTURES = Path(__file__).resolve().parents[3] / "libs" / "sandbox" / "fixtures" / "demo"
#: A Monday well ahead of the sandbox clock (Webex refuses meetings in the past).
START = (datetime.now(UTC) + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
END = START + timedelta(minutes=30)

FAST = {
    "retry_base_seconds": 0.05, "retry_cap_seconds": 0.2, "worker_poll_seconds": 0.05, "outbox_poll_seconds": 0.05,
    "outbox_retry_base_seconds": 0.05, "outbox_retry_cap_seconds": 0.3, "provider_max_retries": 0,
    "provider_retry_base_seconds": 0.01, "lease_seconds": 5.0, "conferencing_inline_attempts": 1,
    "peer_deadline_seconds": 10.0,
}


def people(world: World) -> None:
    world.units[ORG] = ("Northwind", SENDER)
    world.units["org-2"] = ("Elsewhere", "invites@elsewhere.example")
    world.add(Person("ada@northwind.example", "Ada Lovelace", "READ_WRITE", "GOOGLE", GOOGLE_DWD,
                     "103400000000000000001", "Europe/London"))
    world.add(Person("megan@contoso.example", "Megan Bowen", "READ_WRITE", "MICROSOFT", MS_APP,
                     "aaaaaaaa-0000-4000-8000-000000000001", "America/Los_Angeles"))
    world.add(Person("alan@northwind.example", "Alan Turing", "FREE_BUSY", "GOOGLE", GOOGLE_DWD,
                     "103400000000000000003", "Europe/London",
                     [Link("GOOGLE_MEET", GOOGLE_DWD, "103400000000000000003")]))
    world.add(Person("cgrant@fabrikam.example", "Carla Grant", "FREE_BUSY", "MICROSOFT", MS_APP, "", "Europe/Paris",
                     [Link("ZOOM", ZOOM_S2S, "zCarlaGr4nt4Fabrikam01")]))
    world.add(Person("adele@contoso.example", "Adele Vance", "NO_ACCESS", "UNSPECIFIED", "",
                     "aaaaaaaa-0000-4000-8000-000000000002", "Europe/Berlin",
                     [Link("MICROSOFT_TEAMS", MS_APP, "aaaaaaaa-0000-4000-8000-000000000002")]))
    world.add(Person("grace@northwind.example", "Grace Hopper", "NO_ACCESS", "UNSPECIFIED", "", "", "America/New_York",
                     [Link("WEBEX", WEBEX_ADA, "5e7b0a11-0000-4000-8000-000000000002")]))
    world.rooms["room-orion@resource.calendar.google.com"] = "Orion"
    world.rooms["room-orion@contoso.example"] = "Orion (Contoso)"


@dataclass
class Env:
    app: BookingApp
    stub: pb_grpc.BookingServiceStub
    world: World
    sandbox: SandboxHandle
    admin: SandboxAdmin
    sink: SmtpSink
    standins: StandIns

    async def create(self, organizer: str, **fields: Any) -> res.Booking:
        return (await self.stub.CreateBooking(booking_request(organizer, **fields), metadata=AUTH)).booking

    async def get(self, booking_id: str, org: str = ORG) -> res.Booking:
        return (await self.stub.GetBooking(pb.GetBookingRequest(org_unit_id=org, booking_id=booking_id), metadata=AUTH)).booking

    async def settled(self, booking_id: str, timeout: float = 20.0) -> res.Booking:
        """The booking once its delivery is DELIVERED or FAILED (the background work finished)."""
        final = (res.Delivery.STATE_DELIVERED, res.Delivery.STATE_FAILED)
        return await self.once(booking_id, lambda b: b.delivery.state in final, timeout)

    async def once(self, booking_id: str, condition: Callable[[res.Booking], bool], timeout: float = 20.0) -> res.Booking:
        """The booking as soon as ``condition`` holds for it (fails the test after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while True:
                booking = await self.get(booking_id)
                if condition(booking):
                    return booking
                await asyncio.sleep(0.05)


def booking_request(organizer: str, **fields: Any) -> pb.CreateBookingRequest:
    start = fields.pop("start", START)
    end = fields.pop("end", END)
    attendees = fields.pop("attendees", [("bob@example.org", "Bob Brown"), ("carol@example.org", "Carol")])
    request = pb.CreateBookingRequest(
        org_unit_id=fields.pop("org_unit_id", ORG),
        organizer_email=organizer,
        attendees=[res.Attendee(email=e, display_name=n) for e, n in attendees],
        start_time=to_timestamp(start),
        end_time=to_timestamp(end),
        summary=fields.pop("summary", "Quarterly planning"),
        description=fields.pop("description", "Numbers first."),
        **fields,
    )
    return request


@asynccontextmanager
async def booking_env(database_url: str, **overrides: Any) -> AsyncIterator[Env]:
    world = World()
    people(world)
    service_account = json.loads((FIXTURES / "google.json").read_text())["service_accounts"][0]
    async with running_sandbox(FIXTURES) as sbx, SandboxAdmin(sbx.base_url) as admin:
        with running_sink() as sink:
            standins = StandIns(world, sbx.base_url, service_account)
            address = await standins.start()
            settings = BookingSettings(**{
                "port": 0, "database_url": database_url, "access_log": False, "inbound_smtp_port": 0,
                "identity_address": address, "directory_address": address, "availability_address": address,
                "sandbox_url": sbx.base_url, "smtp_host": sink.host, "smtp_port": sink.port, **FAST, **overrides,
            })
            app = await bootstrap(settings)
            port = await app.server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    yield Env(app, pb_grpc.BookingServiceStub(channel), world, sbx, admin, sink, standins)
            finally:
                await app.server.stop(grace=0)
                await standins.stop()


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def calendar_of(raw: bytes) -> Calendar:
    """The text/calendar part of a message (and it must equal the attached invite.ics)."""
    message = parsed(raw)
    inline = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    attached = next(p for p in message.walk() if p.get_filename() == "invite.ics")
    assert inline.get_payload(decode=True) == attached.get_payload(decode=True)
    body = bytes(inline.get_payload(decode=True))
    assert inline.get_param("method") == Calendar.from_ical(body)["METHOD"]
    return Calendar.from_ical(body)


def attendees_of(cal: Calendar) -> dict[str, dict[str, str]]:
    event = cal.walk("VEVENT")[0]
    found = event.get("ATTENDEE")
    found = found if isinstance(found, list) else [found]
    return {str(a).lower().removeprefix("mailto:"): dict(a.params) for a in found}


__all__ = ["AUTH", "END", "ORG", "SENDER", "START", "Env", "attendees_of", "booking_env", "calendar_of", "parsed", "until"]
