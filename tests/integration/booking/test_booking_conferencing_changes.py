"""Linked conferencing meetings follow their booking at the sandbox over HTTP: a reschedule moves the
Zoom, Webex or standalone Teams meeting (retried, and reported, while the service fails), a
cancellation deletes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from kit.convert import to_timestamp
from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb
from sandbox.testing import SandboxAdmin

from .booking_env import AUTH, END, ORG, START, Env, booking_env, calendar_of

LATER = timedelta(hours=3)
NEW_START, NEW_END = START + LATER, END + LATER + timedelta(minutes=15)


@pytest.fixture
async def env(database_url):
    async with booking_env(database_url) as env:
        yield env


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def zoom_meeting(admin: SandboxAdmin, meeting_id: str) -> tuple[datetime, datetime, str] | None:
    record = next(r for r in (await admin.created("zoom"))["meetings"] if str(r["meeting"]["id"]) == meeting_id)
    m = record["meeting"]
    start = _instant(m["start_time"])
    return None if record["deleted"] else (start, start + timedelta(minutes=m["duration"]), m["topic"])


async def webex_meeting(admin: SandboxAdmin, meeting_id: str) -> tuple[datetime, datetime, str] | None:
    m = next((m for m in (await admin.created("webex"))["meetings"] if m["id"] == meeting_id), None)
    return None if m is None else (_instant(m["start"]), _instant(m["end"]), m["title"])


async def teams_meeting(admin: SandboxAdmin, meeting_id: str) -> tuple[datetime, datetime, str] | None:
    m = next(m for m in (await admin.created("microsoft"))["onlineMeetings"] if m["id"] == meeting_id)
    return None if m.get("_deleted") else (_instant(m["startDateTime"]), _instant(m["endDateTime"]), m["subject"])


Reader = Callable[[SandboxAdmin, str], Awaitable[tuple[datetime, datetime, str] | None]]
CASES: list[tuple[str, int, str, str, int, Reader]] = [
    ("cgrant@fabrikam.example", res.CONFERENCING_CHOICE_ZOOM, "zoom.meetings.update", "PATCH", 204, zoom_meeting),
    ("grace@northwind.example", res.CONFERENCING_CHOICE_WEBEX, "webex.meetings.update", "PUT", 200, webex_meeting),
    ("adele@contoso.example", res.CONFERENCING_CHOICE_MICROSOFT_TEAMS, "microsoft.onlineMeetings.update", "PATCH", 200,
     teams_meeting),
]
IDS = ["zoom", "webex", "teams"]


async def reschedule(env: Env, booking_id: str, **extra: Any) -> res.Booking:
    return (await env.stub.UpdateBooking(pb.UpdateBookingRequest(
        org_unit_id=ORG, booking_id=booking_id,
        booking=res.Booking(summary="Planning, moved", start_time=to_timestamp(NEW_START), end_time=to_timestamp(NEW_END)),
        update_mask=FieldMask(paths=["summary", "start_time", "end_time"]), **extra), metadata=AUTH)).booking


@pytest.mark.parametrize(("organizer", "choice", "route", "method", "status", "meeting"), CASES, ids=IDS)
async def test_a_reschedule_moves_the_linked_meeting_at_the_provider(env: Env, organizer, choice, route, method, status,
                                                                     meeting):
    booking = await env.create(organizer, conferencing=choice)
    assert booking.conferencing.state == res.Conferencing.STATE_CREATED, booking.conferencing.failure_message
    assert await meeting(env.admin, booking.conferencing.meeting_id) == (START, END, "Quarterly planning")
    await env.sink.wait_for(3)

    moved = await reschedule(env, booking.id)

    assert moved.conferencing.state == res.Conferencing.STATE_CREATED, moved.conferencing.failure_message
    assert (moved.conferencing.meeting_id, moved.conferencing.join_url) == (
        booking.conferencing.meeting_id, booking.conferencing.join_url)
    calls = await env.admin.requests(route=route)
    assert [(c["method"], c["status"]) for c in calls] == [(method, status)]
    assert await meeting(env.admin, booking.conferencing.meeting_id) == (NEW_START, NEW_END, "Planning, moved")
    await env.sink.wait_for(6)  # the updated invite still carries the (unchanged) link
    update = calendar_of(env.sink.received[3].content)
    assert booking.conferencing.join_url in update.to_ical().decode().replace("\r\n ", "")


async def test_the_webex_move_names_the_host_the_admin_scheduled_for(env: Env):
    booking = await env.create("grace@northwind.example", conferencing=res.CONFERENCING_CHOICE_WEBEX)
    await reschedule(env, booking.id)
    sent = (await env.admin.requests(route="webex.meetings.update"))[0]["json"]
    assert sent["hostEmail"] == "grace@northwind.example" and sent["sendEmail"] is False
    assert sent["password"] == booking.conferencing.passcode and sent["title"] == "Planning, moved"


@pytest.mark.parametrize(("organizer", "choice", "route", "method", "status", "meeting"), CASES, ids=IDS)
async def test_a_failing_provider_is_retried_and_the_booking_says_so_until_it_takes_the_move(
    env: Env, organizer, choice, route, method, status, meeting
):
    booking = await env.create(organizer, conferencing=choice)
    await env.admin.add_fault(route=route, kind="status", status=503, times=2)

    moved = await reschedule(env, booking.id)

    assert moved.conferencing.state == res.Conferencing.STATE_PENDING
    assert "could not be moved" in moved.conferencing.failure_message
    assert "503" in moved.conferencing.failure_message
    assert moved.conferencing.join_url == booking.conferencing.join_url
    assert await meeting(env.admin, booking.conferencing.meeting_id) == (START, END, "Quarterly planning")
    after = await env.once(booking.id, lambda b: b.conferencing.state != res.Conferencing.STATE_PENDING)
    assert after.conferencing.state == res.Conferencing.STATE_CREATED
    assert after.conferencing.failure_message == ""
    assert [c["status"] for c in await env.admin.requests(route=route)] == [503, 503, status]
    assert await meeting(env.admin, booking.conferencing.meeting_id) == (NEW_START, NEW_END, "Planning, moved")


async def test_a_refused_move_ends_failed_with_the_reason(env: Env):
    booking = await env.create("cgrant@fabrikam.example", conferencing=res.CONFERENCING_CHOICE_ZOOM)
    await env.admin.add_fault(route="zoom.meetings.update", kind="status", status=403, times=1)
    moved = await reschedule(env, booking.id)
    assert moved.conferencing.state == res.Conferencing.STATE_FAILED
    assert "403" in moved.conferencing.failure_message
    assert moved.conferencing.join_url == booking.conferencing.join_url
    assert (await zoom_meeting(env.admin, booking.conferencing.meeting_id)) == (START, END, "Quarterly planning")


@pytest.mark.parametrize(("organizer", "choice", "route", "method", "status", "meeting"), CASES, ids=IDS)
async def test_cancelling_deletes_the_linked_meeting(env: Env, organizer, choice, route, method, status, meeting):
    booking = await env.create(organizer, conferencing=choice)
    await env.stub.CancelBooking(pb.CancelBookingRequest(org_unit_id=ORG, booking_id=booking.id), metadata=AUTH)
    deletes = await env.admin.requests(route=route.replace(".update", ".delete"))
    assert [(d["method"], d["status"]) for d in deletes] == [("DELETE", 204)]
    assert await meeting(env.admin, booking.conferencing.meeting_id) is None
