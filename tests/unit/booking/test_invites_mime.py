"""The iMIP messages: one per recipient, Google's multipart layout, headers that route replies to us."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from icalendar import Calendar

from kit.clock import SequentialIds
from services.booking.invites.mime import invite_messages
from services.booking.invites.model import (
    InviteEvent,
    InviteKind,
    InviteMethod,
    InviteParty,
    OutgoingMessage,
    PartStat,
)

STAMP = datetime(2026, 4, 1, 8, 30, tzinfo=UTC)
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
MAILBOX = "invites@mail.northwind.example"
BOB = InviteParty("bob@fabrikam.example", "Bob Brown")
CAROL = InviteParty("carol@contoso.example", "Carol Ćwik")


def an_event(**changes: object) -> InviteEvent:
    event = InviteEvent(
        uid="bk-1@rendezvous.example",
        sequence=0,
        start=START,
        end=START + timedelta(minutes=30),
        summary="Quarterly planning",
        organizer_mailbox=MAILBOX,
        organizer_name="Alice Adams",
        organizer_email="alice@northwind.example",
        attendees=(BOB, CAROL),
        conference_url="https://meet.example/abc-defg-hij",
        conference_name="Google Meet",
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def build(kind: InviteKind = InviteKind.NEW, event: InviteEvent | None = None, **kwargs: object) -> list[OutgoingMessage]:
    return invite_messages(
        event or an_event(),
        kind=kind,
        stamp=STAMP,
        unit_name="Northwind",
        booking_id="bk-1",
        ids=SequentialIds("msg"),
        **kwargs,  # type: ignore[arg-type]
    )


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_every_party_gets_their_own_message_including_the_organizer() -> None:
    messages = build()
    assert [m.recipient for m in messages] == ["alice@northwind.example", "bob@fabrikam.example", "carol@contoso.example"]
    for m in messages:
        msg = parse(m.raw)
        assert parseaddr(str(msg["To"]))[1] == m.recipient
        assert (m.booking_id, m.sender, m.method, m.sequence, m.attempts) == ("bk-1", MAILBOX, InviteMethod.REQUEST, 0, 0)
    assert len({m.message_id for m in messages}) == 3


def test_the_layout_is_mixed_alternative_text_html_calendar_plus_an_ics_attachment() -> None:
    msg = parse(build()[1].raw)
    assert msg.get_content_type() == "multipart/mixed"
    top = list(msg.iter_parts())
    assert [p.get_content_type() for p in top] == ["multipart/alternative", "application/ics"]
    alternative = list(top[0].iter_parts())
    assert [p.get_content_type() for p in alternative] == ["text/plain", "text/html", "text/calendar"]

    plain, page, calendar = alternative
    assert "Quarterly planning" in plain.get_content() and "https://meet.example/abc-defg-hij" in plain.get_content()
    assert '<a href="https://meet.example/abc-defg-hij">' in page.get_content()
    assert calendar.get_param("method") == "REQUEST"
    assert str(calendar.get_param("charset")).upper() == "UTF-8"
    assert calendar["Content-Transfer-Encoding"] == "base64"
    assert calendar.get_content_disposition() is None  # inline, like Google's

    attachment = top[1]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("name") == "invite.ics"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_payload(decode=True) == calendar.get_payload(decode=True)


def test_the_method_parameter_is_written_unquoted_like_googles() -> None:
    raw = build()[0].raw
    assert b"Content-Type: text/calendar; method=REQUEST; charset=\"UTF-8\"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line endings throughout


def test_the_calendar_inside_matches_the_method_parameter_and_the_booking() -> None:
    for kind, method in [(InviteKind.NEW, "REQUEST"), (InviteKind.UPDATE, "REQUEST"), (InviteKind.CANCEL, "CANCEL")]:
        for m in build(kind, an_event(sequence=4)):
            part = next(p for p in parse(m.raw).walk() if p.get_content_type() == "text/calendar")
            assert part.get_param("method") == method
            cal = Calendar.from_ical(bytes(part.get_payload(decode=True)))
            assert cal.method == method
            assert cal.events[0].uid == "bk-1@rendezvous.example" and cal.events[0].sequence == 4
            assert cal.events[0].stamp == STAMP


def test_from_sender_and_reply_to_are_the_organizer_mailbox_with_the_humans_name() -> None:
    msg = parse(build()[1].raw)
    for header in ("From", "Sender", "Reply-To"):
        name, address = parseaddr(str(msg[header]))
        assert address == MAILBOX
        assert name == "Alice Adams (via Northwind)"
    assert str(msg["Message-ID"]).endswith("@mail.northwind.example>")
    assert msg["Message-ID"] == build()[1].message_id
    assert msg["Date"].datetime == STAMP
    assert msg["MIME-Version"] == "1.0"


def test_subjects_say_what_happened() -> None:
    assert str(parse(build(InviteKind.NEW)[0].raw)["Subject"]).startswith("Invitation: Quarterly planning @ Fri 1 May 2026 09:00")
    assert str(parse(build(InviteKind.UPDATE)[0].raw)["Subject"]).startswith("Updated invitation: Quarterly planning")
    assert str(parse(build(InviteKind.CANCEL)[0].raw)["Subject"]).startswith("Canceled: Quarterly planning")
    berlin = parse(build(InviteKind.NEW, an_event(time_zone="Europe/Berlin"))[0].raw)
    assert "11:00 – 11:30 (Europe/Berlin)" in str(berlin["Subject"])


def test_non_ascii_names_survive_the_headers() -> None:
    msg = parse(build()[2].raw)
    assert parseaddr(str(msg["To"])) == ("Carol Ćwik", "carol@contoso.example")


def test_a_response_report_goes_to_the_organizer_only_with_the_new_status() -> None:
    accepted = replace(BOB, partstat=PartStat.ACCEPTED)
    event = an_event(attendees=(accepted, CAROL))
    messages = build(InviteKind.RESPONSE, event, responder_email="BOB@fabrikam.example", note="Bob: see you")
    assert [m.recipient for m in messages] == ["alice@northwind.example"]
    msg = parse(messages[0].raw)
    assert str(msg["Subject"]) == "Accepted: Quarterly planning (Bob Brown)"
    plain = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    assert "Bob: see you" in plain.get_content()
    cal = Calendar.from_ical(bytes(next(p for p in msg.walk() if p.get_content_type() == "text/calendar").get_payload(decode=True)))
    assert cal.method == "REQUEST"
    assert {a.email: a.params["PARTSTAT"] for a in cal.events[0].attendees}["bob@fabrikam.example"] == "ACCEPTED"


def test_an_uninvite_goes_only_to_the_removed_attendees() -> None:
    messages = build(InviteKind.UNINVITE, an_event(sequence=1, attendees=(CAROL,)), removed=[BOB])
    assert [(m.recipient, m.method, m.sequence) for m in messages] == [("bob@fabrikam.example", InviteMethod.CANCEL, 1)]
    msg = parse(messages[0].raw)
    assert str(msg["Subject"]).startswith("Canceled: ")
    cal = Calendar.from_ical(bytes(next(p for p in msg.walk() if p.get_content_type() == "text/calendar").get_payload(decode=True)))
    assert [a.email for a in cal.events[0].attendees] == ["bob@fabrikam.example"]
    assert "STATUS" not in cal.events[0]


def test_only_to_limits_recipients_for_a_refresh() -> None:
    messages = build(InviteKind.NEW, only_to=["CAROL@contoso.example"])
    assert [m.recipient for m in messages] == ["carol@contoso.example"]


def test_line_breaks_in_a_title_cannot_inject_headers() -> None:
    raw = build(InviteKind.NEW, an_event(summary="Hi\r\nBcc: everyone@evil.example"))[1].raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith(b"Bcc:") for line in head.split(b"\r\n"))
    msg = parse(raw)
    assert msg["Bcc"] is None
    assert str(msg["Subject"]).startswith("Invitation: Hi Bcc: everyone@evil.example")


def test_every_line_fits_smtp_limits_and_body_parts_are_shared_by_recipients() -> None:
    messages = build(InviteKind.NEW, an_event(summary="Ünïcödé " * 30, description="word " * 400))
    for m in messages:
        assert max(len(line) for line in m.raw.split(b"\r\n")) <= 78
        assert m.raw.isascii()
    bodies = {m.raw.split(b"\r\n\r\n", 1)[1] for m in messages}
    assert len(bodies) == 1
