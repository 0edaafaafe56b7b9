"""IngestEmail on fakes: answers recorded by UID + ATTENDEE, reported to the organizer, junk rejected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from services.booking.domain.model import ResponseStatus
from services.booking.invites.model import ReplyOutcome

from .fakes import ORG, SENDER, World, a_request
from .test_create_booking import calendar_of


@pytest.fixture
def world() -> World:
    return World()


def reply(uid: str, attendee: str, partstat: str = "ACCEPTED", *, method: str = "REPLY", sequence: int = 0,
          stamp: datetime | None = None, sender: str = "", extra: str = "") -> bytes:
    stamp = stamp or datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    ics = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Reply//EN", f"METHOD:{method}", "BEGIN:VEVENT",
        f"UID:{uid}", f"SEQUENCE:{sequence}", f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
        "DTSTART:20261005T090000Z", "DTEND:20261005T093000Z", "SUMMARY:Quarterly planning",
        f"ORGANIZER:mailto:{SENDER}", f"ATTENDEE;PARTSTAT={partstat}:mailto:{attendee}", *( [extra] if extra else []),
        "END:VEVENT", "END:VCALENDAR", "",
    ])
    msg = EmailMessage()
    msg["From"] = sender or attendee
    msg["To"] = SENDER
    msg["Subject"] = f"{partstat.title()}: Quarterly planning"
    msg.set_content("answer")
    msg.add_alternative(ics.encode(), maintype="text", subtype="calendar", params={"method": method})
    return msg.as_bytes()


async def test_an_acceptance_is_recorded_and_the_organizer_gets_the_updated_request(world):
    booking = await world.create(a_request())
    result = await world.ingest(reply(booking.delivery.ical_uid, "Bob@Example.org"))
    assert (result.outcome, result.booking_id, result.attendee_email) == (ReplyOutcome.APPLIED, booking.id, "bob@example.org")
    assert result.response_status is ResponseStatus.ACCEPTED
    stored = world.store.bookings[booking.id]
    bob = stored.party("bob@example.org")
    assert bob is not None and bob.response_status is ResponseStatus.ACCEPTED
    assert bob.response_time is not None
    reports = world.store.messages("RESPONSE")
    assert [m.recipient for m in reports] == ["frank@fabrikam.example"]
    event = calendar_of(reports[0].raw).walk("VEVENT")[0]
    assert event["SEQUENCE"] == 0  # a status-only change keeps the SEQUENCE
    statuses = {str(a).lower().removeprefix("mailto:"): a.params["PARTSTAT"] for a in event.get("ATTENDEE")}
    assert statuses["bob@example.org"] == "ACCEPTED"
    assert statuses["carol@example.org"] == "NEEDS-ACTION"
    assert world.store.replies[-1].outcome == "APPLIED"


async def test_a_decline_frees_the_attendee_in_busy_periods(world):
    booking = await world.create(a_request())
    await world.ingest(reply(booking.delivery.ical_uid, "bob@example.org", "DECLINED"))
    page = await world.queries.busy_periods(ORG, ["bob@example.org", "carol@example.org"],
                                            (booking.start, booking.end), 0, "")
    assert [p.email for p in page.items] == ["carol@example.org"]


async def test_a_counter_proposal_is_recorded_not_applied(world):
    booking = await world.create(a_request())
    result = await world.ingest(reply(
        booking.delivery.ical_uid, "carol@example.org", "TENTATIVE", method="COUNTER",
        extra="COMMENT:Could we do later?"))
    assert result.outcome is ReplyOutcome.APPLIED
    carol = world.store.bookings[booking.id].party("carol@example.org")
    assert carol is not None and carol.response_status is ResponseStatus.TENTATIVE
    assert world.store.bookings[booking.id].start == booking.start


async def test_the_from_header_does_not_matter_only_the_attendee(world):
    booking = await world.create(a_request())
    result = await world.ingest(reply(booking.delivery.ical_uid, "bob@example.org", sender="assistant@example.org"))
    assert result.outcome is ReplyOutcome.APPLIED and result.attendee_email == "bob@example.org"


async def test_an_older_reply_is_ignored_as_stale(world):
    booking = await world.create(a_request())
    late = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    await world.ingest(reply(booking.delivery.ical_uid, "bob@example.org", "DECLINED", stamp=late))
    result = await world.ingest(reply(booking.delivery.ical_uid, "bob@example.org", "ACCEPTED",
                                      stamp=late - timedelta(hours=1)))
    assert (result.outcome, result.reason) == (ReplyOutcome.IGNORED_STALE, "REPLY_STALE")
    bob = world.store.bookings[booking.id].party("bob@example.org")
    assert bob is not None and bob.response_status is ResponseStatus.DECLINED


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xff not mail at all", "MESSAGE_MALFORMED"),
        (b"From: a@b.example\r\nSubject: hi\r\n\r\nplain text", "MESSAGE_NOT_A_REPLY"),
    ],
)
async def test_unusable_mail_is_rejected_and_logged(world, raw, reason):
    result = await world.ingest(raw)
    assert (result.outcome, result.reason) == (ReplyOutcome.REJECTED, reason)
    assert world.store.replies[-1].reason == reason
    assert world.store.outbox == []


async def test_an_unknown_uid_and_a_forged_attendee_are_rejected(world):
    booking = await world.create(a_request())
    unknown = await world.ingest(reply("nope@elsewhere", "bob@example.org"))
    assert (unknown.outcome, unknown.reason) == (ReplyOutcome.REJECTED, "BOOKING_NOT_FOUND")
    forged = await world.ingest(reply(booking.delivery.ical_uid, "mallory@example.org"))
    assert (forged.outcome, forged.reason, forged.booking_id) == (ReplyOutcome.REJECTED, "ATTENDEE_NOT_FOUND", booking.id)
    assert world.store.messages("RESPONSE") == []
    assert [r.outcome for r in world.store.replies] == ["REJECTED", "REJECTED"]


async def test_a_refresh_resends_the_latest_request_to_that_attendee_only(world):
    booking = await world.create(a_request())
    result = await world.ingest(reply(booking.delivery.ical_uid, "carol@example.org", method="REFRESH"))
    assert result.outcome is ReplyOutcome.APPLIED
    resent = world.store.messages("UPDATE")
    assert [m.recipient for m in resent] == ["carol@example.org"]
    assert [counts for m, kind, counts in world.store.outbox if kind == "UPDATE"] == [False]  # not a new version


async def test_an_answer_to_a_native_event_is_recorded_but_not_mailed_to_the_organizer(world):
    booking = await world.create(a_request("ada@northwind.example"))
    result = await world.ingest(reply(booking.delivery.ical_uid, "bob@example.org"))
    assert result.outcome is ReplyOutcome.APPLIED
    assert world.store.outbox == []  # the provider keeps the organizer's calendar up to date itself
