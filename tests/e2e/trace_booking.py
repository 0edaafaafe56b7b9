"""Run in its own process (tracing instruments gRPC, httpx and engines for the whole process):
trace the four services in one process, book once, print every span of that booking as JSON.

    python -m tests.e2e.trace_booking VAR_DIR [DATABASE_URLS_JSON]

``DATABASE_URLS_JSON`` maps service names to database URLs (fresh PostgreSQL databases); without it
every service gets a SQLite file under VAR_DIR.

Tracing is set up with an in-memory exporter BEFORE anything is imported that builds channels,
clients or engines. Then a unit is created, a Google READ_WRITE calendar connection is authorized
in the sandbox (the browser step done with httpx), and one CreateBooking with Google Meet is sent
through gRPC inside the test's own client span. The spans recorded from that span's start until the
booking is back are printed as one JSON line (the last line of stdout).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kit import telemetry

EXPORTER = InMemorySpanExporter()
telemetry.setup_tracing("rendezvous-e2e-trace", exporter=EXPORTER, environ={})

import grpc  # noqa: E402  (after tracing, on purpose)
import httpx  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kit.convert import to_timestamp  # noqa: E402
from rendezvous.booking.v1 import booking_resources_pb2 as bres  # noqa: E402
from rendezvous.booking.v1 import booking_service_pb2 as bpb  # noqa: E402
from rendezvous.booking.v1 import booking_service_pb2_grpc as bgrpc  # noqa: E402
from rendezvous.common.v1 import common_pb2  # noqa: E402
from rendezvous.directory.v1 import directory_resources_pb2 as dres  # noqa: E402
from rendezvous.directory.v1 import directory_service_pb2 as dpb  # noqa: E402
from rendezvous.directory.v1 import directory_service_pb2_grpc as dgrpc  # noqa: E402
from tests.e2e.in_process import InProcessStack, in_process_stack  # noqa: E402

ORGANIZER = "ada@northwind.example"
ROOT_SPAN = "e2e: CreateBooking"


async def connect_google_read_write(stack: InProcessStack, directory: dgrpc.DirectoryServiceStub) -> str:
    """A unit whose northwind.example domain is Google READ_WRITE, authorized by ada in the sandbox."""
    unit = (await directory.CreateOrganizationalUnit(
        dpb.CreateOrganizationalUnitRequest(display_name="Northwind", invite_sender_address="invites@northwind.example"),
        metadata=stack.metadata)).organizational_unit  # fmt: skip
    started = await directory.ConnectCalendarService(dpb.ConnectCalendarServiceRequest(
        org_unit_id=unit.id, provider=common_pb2.PROVIDER_GOOGLE, access_mode=common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE,
        domains=["northwind.example"]), metadata=stack.metadata)  # fmt: skip
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        at_google = await browser.get(httpx.URL(started.authorization_url).copy_merge_params({"login_hint": ORGANIZER}))
        assert at_google.status_code == 302, at_google.text
        back = await browser.get(at_google.headers["location"])
        assert back.status_code in (200, 303), back.text
    connection = (await directory.GetCalendarService(dpb.GetCalendarServiceRequest(
        org_unit_id=unit.id, calendar_connection_id=started.calendar_connection.id),
        metadata=stack.metadata)).calendar_connection  # fmt: skip
    assert connection.state == dres.CalendarConnection.STATE_ACTIVE, connection
    return str(unit.id)


def as_json(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent": format(span.parent.span_id, "016x") if span.parent else None,
        "remote_parent": bool(span.parent and span.parent.is_remote),
        "service_name": span.resource.attributes.get("service.name"),
        "attributes": {k: v if isinstance(v, str | int | float | bool) else str(v)
                       for k, v in (span.attributes or {}).items()},  # fmt: skip
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else "",
    }


async def main(var_dir: Path, database_urls: dict[str, str]) -> None:
    async with in_process_stack(var_dir, database_urls) as stack:
        async with (
            grpc.aio.insecure_channel(stack.addresses["directory"]) as directory_channel,
            grpc.aio.insecure_channel(stack.addresses["booking"]) as booking_channel,
        ):
            unit_id = await connect_google_read_write(stack, dgrpc.DirectoryServiceStub(directory_channel))
            start = (datetime.now(UTC) + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
            request = bpb.CreateBookingRequest(
                org_unit_id=unit_id, organizer_email=ORGANIZER, summary="Traced planning",
                attendees=[bres.Attendee(email="bob@example.org", display_name="Bob Brown")],
                start_time=to_timestamp(start), end_time=to_timestamp(start + timedelta(minutes=30)),
                conferencing=bres.CONFERENCING_CHOICE_GOOGLE_MEET, request_id="trace-1",
            )  # fmt: skip
            EXPORTER.clear()  # only what the booking causes from here on
            with trace.get_tracer("rendezvous.e2e").start_as_current_span(ROOT_SPAN):
                booking = (await bgrpc.BookingServiceStub(booking_channel).CreateBooking(
                    request, metadata=stack.metadata)).booking  # fmt: skip
            spans = [as_json(s) for s in EXPORTER.get_finished_spans()]
    summary = {
        "booking": {"id": booking.id, "delivery_state": bres.Delivery.State.Name(booking.delivery.state),
                    "provider_event_id": booking.delivery.provider_event_id,
                    "join_url": booking.conferencing.join_url},
        "databases": {name: make_url(url).database for name, url in stack.database_urls.items()},
        "spans": spans,
    }  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}))
