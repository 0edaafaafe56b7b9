"""FREE_BUSY and NO_ACCESS end to end: conferencing at the sandbox, invites through a real SMTP server,
updates and cancellations by mail, and the outbox surviving an SMTP outage."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from kit.convert import to_timestamp
from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb

from .booking_env import (
    AUTH,
    END,
    ORG,
    SENDER,
    START,
    Env,
    attendees_of,
    booking_env,
    calendar_of,
    parsed,
    until,
)


@pytest.fixture
async def env(database_url):
    async with booking_env(database_url) as env:
        yield env


CASES = [
    ("cgrant@fabrikam.example", res.CONFERENCING_CHOICE_DEFAULT, "zoom.meetings.create", "https://zoom.us/j/"),
    ("grace@northwind.example", res.CONFERENCING_CHOICE_WEBEX, "webex.meetings.create", "https://"),
    ("alan@northwind.example", res.CONFERENCING_CHOICE_DEFAULT, "google.meet.spaces.create", "https://meet.google.com/"),
    ("adele@contoso.example", res.CONFERENCING_CHOICE_MICROSOFT_TEAMS, "microsoft.onlineMeetings.create",
     "https://teams.microsoft.com/"),
]


@pytest.mark.parametrize(("organizer", "choice", "route", "link"), CASES, ids=["zoom", "webex", "meet", "teams"])
async def test_an_emailed_invite_with_conferencing_reaches_every_inbox_as_a_request(env: Env, organizer, choice, route, link):
    booking = await env.create(organizer, conferencing=choice)
    assert booking.delivery.method == res.Delivery.METHOD_EMAIL_INVITE
    assert booking.conferencing.state == res.Conferencing.STATE_CREATED, booking.conferencing.failure_message
    assert booking.conferencing.join_url.startswith(link)
    assert len(await env.admin.requests(route=route)) == 1
    await env.sink.wait_for(3)
    settled = await env.settled(booking.id)
    assert settled.delivery.state == res.Delivery.STATE_DELIVERED
    received = {r.rcpt_tos[0]: r for r in env.sink.received}
    assert set(received) == {organizer, "bob@example.org", "carol@example.org"}
    for message in received.values():
        assert message.mail_from == SENDER
        headers = parsed(message.content)
        assert SENDER in headers["From"]
        cal = calendar_of(message.content)
        assert cal["METHOD"] == "REQUEST"
        event = cal.walk("VEVENT")[0]
        assert str(event["UID"]) == booking.delivery.ical_uid
        assert int(event.get("SEQUENCE", 0)) == 0
        assert SENDER in str(event["ORGANIZER"])
        parties = attendees_of(cal)
        assert set(parties) == {organizer, "bob@example.org", "carol@example.org"}
        assert parties[organizer]["ROLE"] == "CHAIR"
        assert booking.conferencing.join_url in event.to_ical().decode().replace("\r\n ", "")


async def test_a_free_busy_booking_without_conferencing_touches_no_provider(env: Env):
    booking = await env.create("cgrant@fabrikam.example")
    assert booking.conferencing.state == res.Conferencing.STATE_NOT_REQUESTED
    await env.sink.wait_for(3)
    assert await env.admin.requests() == []


@pytest.mark.parametrize("organizer", ["grace@northwind.example", "cgrant@fabrikam.example"], ids=["no_access", "free_busy"])
async def test_updates_and_cancellation_by_mail_raise_the_sequence(env: Env, organizer: str):
    booking = await env.create(organizer)
    await env.sink.wait_for(3)
    updated = (await env.stub.UpdateBooking(pb.UpdateBookingRequest(
        org_unit_id=ORG, booking_id=booking.id,
        booking=res.Booking(start_time=to_timestamp(START + timedelta(hours=2)), end_time=to_timestamp(END + timedelta(hours=2)),
                            attendees=[res.Attendee(email="bob@example.org"), res.Attendee(email="dan@example.org")]),
        update_mask=FieldMask(paths=["start_time", "end_time", "attendees"])), metadata=AUTH)).booking
    assert updated.delivery.sequence == 1
    await env.sink.wait_for(3 + 3 + 1)  # REQUEST to grace, bob, dan; CANCEL to carol
    later = env.sink.received[3:]
    methods = Counter((r.rcpt_tos[0], str(calendar_of(r.content)["METHOD"])) for r in later)
    assert methods == Counter({(organizer, "REQUEST"): 1, ("bob@example.org", "REQUEST"): 1,
                               ("dan@example.org", "REQUEST"): 1, ("carol@example.org", "CANCEL"): 1})
    assert {int(str(calendar_of(r.content).walk("VEVENT")[0]["SEQUENCE"])) for r in later} == {1}
    cancelled = (await env.stub.CancelBooking(pb.CancelBookingRequest(org_unit_id=ORG, booking_id=booking.id, reason="Sorry"),
                                              metadata=AUTH)).booking
    assert cancelled.delivery.sequence == 2
    await env.sink.wait_for(7 + 3)
    for r in env.sink.received[7:]:
        cal = calendar_of(r.content)
        assert cal["METHOD"] == "CANCEL"
        assert int(str(cal.walk("VEVENT")[0]["SEQUENCE"])) == 2
        assert str(cal.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    assert (await env.settled(booking.id)).delivery.state == res.Delivery.STATE_DELIVERED


async def test_a_conferencing_outage_leaves_conferencing_pending_then_an_update_carries_the_link(env: Env):
    await env.admin.add_fault(route="zoom.meetings.create", kind="status", status=503, times=1)
    booking = await env.create("cgrant@fabrikam.example", conferencing=res.CONFERENCING_CHOICE_ZOOM)
    assert booking.conferencing.state == res.Conferencing.STATE_PENDING
    assert booking.conferencing.join_url == ""
    await env.sink.wait_for(6)
    first = [calendar_of(r.content) for r in env.sink.received[:3]]
    assert all("zoom.us" not in c.to_ical().decode() for c in first)
    after = await env.get(booking.id)
    assert after.conferencing.state == res.Conferencing.STATE_CREATED
    assert after.delivery.sequence == 1
    update = calendar_of(env.sink.received[3].content)
    assert after.conferencing.join_url in update.to_ical().decode().replace("\r\n ", "")


async def test_every_message_arrives_once_after_the_smtp_server_comes_back(env: Env):
    env.sink.stop()
    bookings = []
    for i in range(4):
        shift = timedelta(hours=i)
        bookings.append(await env.create("cgrant@fabrikam.example", start=START + shift, end=END + shift))
    await asyncio.sleep(0.5)
    states = {(await env.get(b.id)).delivery.state for b in bookings}
    assert states <= {res.Delivery.STATE_PENDING, res.Delivery.STATE_RETRYING}
    assert res.Delivery.STATE_RETRYING in states
    env.sink.start()
    await env.sink.wait_for(12)
    for b in bookings:
        assert (await env.settled(b.id)).delivery.state == res.Delivery.STATE_DELIVERED
    await asyncio.sleep(0.3)
    ids = env.sink.message_ids()
    assert len(ids) == 12 and set(ids.values()) == {1}


async def test_a_recipient_refused_for_good_makes_the_delivery_failed(env: Env):
    env.sink.rcpt_answers["carol@example.org"] = "550 5.1.1 No such user"
    booking = await env.create("cgrant@fabrikam.example")
    settled = await env.settled(booking.id)
    assert settled.delivery.state == res.Delivery.STATE_FAILED
    assert "550" in settled.delivery.last_error
    await until(lambda: env.sink.count() == 2)
