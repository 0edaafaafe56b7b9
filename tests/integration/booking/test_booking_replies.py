"""Replies end to end: IngestEmail and the inbound SMTP listener update the attendee and the organizer
receives the updated REQUEST; junk is logged and rejected without harm."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from rendezvous.booking.v1 import booking_resources_pb2 as res
from rendezvous.booking.v1 import booking_service_pb2 as pb
from services.booking.adapters.tables import reply_log

from .booking_env import AUTH, SENDER, Env, attendees_of, booking_env, calendar_of


@pytest.fixture
async def env(database_url):
    async with booking_env(database_url) as env:
        yield env


def reply_mail(uid: str, attendee: str, partstat: str, *, method: str = "REPLY", extra: list[str] | None = None) -> bytes:
    """A reply as Outlook or Gmail sends it: multipart with a text/calendar; method=REPLY part."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ics = "\r\n".join([
        "BEGIN:VCALENDAR", "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN", "VERSION:2.0", f"METHOD:{method}",
        "BEGIN:VEVENT", f"UID:{uid}", "SEQUENCE:0", f"DTSTAMP:{stamp}", f"ORGANIZER:mailto:{SENDER}",
        f"ATTENDEE;PARTSTAT={partstat};CN=Someone:mailto:{attendee}", *(extra or []), "END:VEVENT", "END:VCALENDAR", "",
    ])
    return (
        f"From: Someone <{attendee}>\r\nTo: {SENDER}\r\nSubject: {partstat.title()}: Quarterly planning\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n"
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee you there.\r\n"
        f"--b1\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\n\r\n{ics}\r\n--b1--\r\n"
    ).encode()


async def send_smtp(env: Env, sender: str, raw: bytes) -> None:
    """Through the inbound listener (which runs on this event loop, so the client runs in a thread)."""
    assert env.app.inbound is not None
    port = env.app.inbound.port

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(sender, [SENDER], raw)

    await asyncio.to_thread(send)


async def ingest(env: Env, raw: bytes) -> pb.IngestEmailResponse:
    return await env.stub.IngestEmail(pb.IngestEmailRequest(raw_message=raw), metadata=AUTH)


async def test_a_reply_through_ingest_email_updates_the_attendee_and_the_organizer_gets_the_update(env: Env):
    booking = await env.create("cgrant@fabrikam.example")
    await env.sink.wait_for(3)
    answer = await ingest(env, reply_mail(booking.delivery.ical_uid, "BOB@example.org", "ACCEPTED"))
    assert answer.result == pb.IngestEmailResponse.RESULT_APPLIED
    assert (answer.booking_id, answer.attendee_email) == (booking.id, "bob@example.org")
    assert answer.response_status == res.RESPONSE_STATUS_ACCEPTED
    after = await env.get(booking.id)
    bob = next(a for a in after.attendees if a.email == "bob@example.org")
    assert bob.response_status == res.RESPONSE_STATUS_ACCEPTED
    assert bob.HasField("response_time")
    await env.sink.wait_for(4)
    report = env.sink.received[3]
    assert report.rcpt_tos == ("cgrant@fabrikam.example",)
    cal = calendar_of(report.content)
    assert cal["METHOD"] == "REQUEST"
    assert int(cal.walk("VEVENT")[0].get("SEQUENCE", 0)) == 0
    assert attendees_of(cal)["bob@example.org"]["PARTSTAT"] == "ACCEPTED"


async def test_a_reply_through_the_smtp_listener_is_applied_the_same_way(env: Env):
    booking = await env.create("grace@northwind.example")
    await env.sink.wait_for(3)
    await send_smtp(env, "carol@example.org", reply_mail(booking.delivery.ical_uid, "carol@example.org", "DECLINED"))
    await env.sink.wait_for(4)
    after = await env.get(booking.id)
    carol = next(a for a in after.attendees if a.email == "carol@example.org")
    assert carol.response_status == res.RESPONSE_STATUS_DECLINED
    assert attendees_of(calendar_of(env.sink.received[3].content))["carol@example.org"]["PARTSTAT"] == "DECLINED"
    busy = await env.stub.ListBusyPeriods(pb.ListBusyPeriodsRequest(
        org_unit_id="org-1", emails=["carol@example.org", "bob@example.org"], window=after_window(after)), metadata=AUTH)
    assert [p.email for p in busy.busy_periods] == ["bob@example.org"]


def after_window(booking: res.Booking):
    from rendezvous.common.v1 import common_pb2

    return common_pb2.TimeRange(start_time=booking.start_time, end_time=booking.end_time)


async def test_a_counter_proposal_is_recorded_on_the_attendee(env: Env):
    booking = await env.create("cgrant@fabrikam.example")
    answer = await ingest(env, reply_mail(booking.delivery.ical_uid, "bob@example.org", "TENTATIVE", method="COUNTER",
                                          extra=["DTSTART:20300101T100000Z", "DTEND:20300101T103000Z", "SUMMARY:x"]))
    assert answer.result == pb.IngestEmailResponse.RESULT_APPLIED
    bob = next(a for a in (await env.get(booking.id)).attendees if a.email == "bob@example.org")
    assert bob.HasField("proposed_time")
    assert bob.proposed_time.start_time.ToDatetime(tzinfo=UTC) == datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


async def test_unknown_uids_forged_attendees_and_malformed_mail_are_rejected_and_logged(env: Env):
    booking = await env.create("cgrant@fabrikam.example")
    await env.sink.wait_for(3)
    results = [
        await ingest(env, reply_mail("unknown@nowhere", "bob@example.org", "ACCEPTED")),
        await ingest(env, reply_mail(booking.delivery.ical_uid, "mallory@example.org", "ACCEPTED")),
        await ingest(env, b"\xff\xfe garbage \x00"),
        await ingest(env, b"Subject: hello\r\n\r\nno calendar here"),
    ]
    assert [(r.result, r.reason) for r in results] == [
        (pb.IngestEmailResponse.RESULT_REJECTED, "BOOKING_NOT_FOUND"),
        (pb.IngestEmailResponse.RESULT_REJECTED, "ATTENDEE_NOT_FOUND"),
        (pb.IngestEmailResponse.RESULT_REJECTED, "MESSAGE_MALFORMED"),
        (pb.IngestEmailResponse.RESULT_REJECTED, "MESSAGE_NOT_A_REPLY"),
    ]
    await send_smtp(env, "x@example.org", b"Subject: junk\r\n\r\n\x00\x01")
    async with env.app.engine.connect() as conn:
        rows = (await conn.execute(select(reply_log.c.outcome, reply_log.c.reason, reply_log.c.source))).all()
    assert [tuple(r) for r in rows] == [
        ("REJECTED", "BOOKING_NOT_FOUND", "rpc"), ("REJECTED", "ATTENDEE_NOT_FOUND", "rpc"),
        ("REJECTED", "MESSAGE_MALFORMED", "rpc"), ("REJECTED", "MESSAGE_NOT_A_REPLY", "rpc"),
        ("REJECTED", "MESSAGE_NOT_A_REPLY", "smtp"),
    ]
    assert env.sink.count() == 3
    after = await env.get(booking.id)
    assert {a.response_status for a in after.attendees} == {res.RESPONSE_STATUS_NEEDS_ACTION}
