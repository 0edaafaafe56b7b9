"""The SMTP adapter against a real SMTP server: invites arrive intact; failures are typed."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from kit.clock import SequentialIds
from services.booking.adapters.smtp import SmtpTransport
from services.booking.invites.mime import invite_messages
from services.booking.invites.model import InviteEvent, InviteKind, InviteParty, OutgoingMessage
from services.booking.invites.ports import PermanentDeliveryError, TransientDeliveryError

from .test_mail_sink import SmtpSink, free_port, running_sink

STAMP = datetime(2026, 4, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


def invites(n_attendees: int = 2) -> list[OutgoingMessage]:
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    event = InviteEvent(
        uid="bk-1@rendezvous.example",
        sequence=1,
        start=start,
        end=start + timedelta(hours=1),
        summary="Quarterly planning",
        organizer_mailbox="invites@mail.northwind.example",
        organizer_name="Alice Adams",
        organizer_email="alice@northwind.example",
        attendees=tuple(InviteParty(f"guest{i}@fabrikam.example", f"Guest {i}") for i in range(n_attendees)),
        time_zone="Europe/London",
    )
    return invite_messages(
        event, kind=InviteKind.UPDATE, stamp=STAMP, unit_name="Northwind", booking_id="bk-1", ids=SequentialIds("m")
    )


async def test_sent_invites_arrive_as_valid_icalendar_with_method_sequence_and_attendees(smtp_sink: SmtpSink) -> None:
    messages = invites()
    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        for m in messages:
            await session.send(m.sender, m.recipient, m.raw)
    assert [(r.mail_from, r.rcpt_tos) for r in smtp_sink.received] == [
        ("invites@mail.northwind.example", (m.recipient,)) for m in messages
    ]
    for m, received in zip(messages, smtp_sink.received, strict=True):
        msg = email.message_from_bytes(received.content, policy=email.policy.default)
        assert msg["Message-ID"] == m.message_id
        part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        assert part.get_param("method") == "REQUEST"
        cal = Calendar.from_ical(bytes(part.get_payload(decode=True)))
        assert cal.method == "REQUEST"
        event = cal.events[0]
        assert event.sequence == 1
        assert [a.email for a in event.attendees] == [
            "alice@northwind.example",
            "guest0@fabrikam.example",
            "guest1@fabrikam.example",
        ]
        assert [str(tz["TZID"]) for tz in cal.timezones] == ["Europe/London"]


async def test_a_refused_recipient_is_a_permanent_error_and_the_session_goes_on(smtp_sink: SmtpSink) -> None:
    messages = invites()
    smtp_sink.rcpt_answers[messages[1].recipient] = "550 5.1.1 No such user"
    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        await session.send(messages[0].sender, messages[0].recipient, messages[0].raw)
        with pytest.raises(PermanentDeliveryError) as refused:
            await session.send(messages[1].sender, messages[1].recipient, messages[1].raw)
        await session.send(messages[2].sender, messages[2].recipient, messages[2].raw)
    assert refused.value.code == 550
    assert [r.rcpt_tos[0] for r in smtp_sink.received] == [messages[0].recipient, messages[2].recipient]


async def test_a_4xx_answer_is_transient_with_its_code(smtp_sink: SmtpSink) -> None:
    m = invites(1)[1]
    smtp_sink.rcpt_answers[m.recipient] = "450 4.2.1 Try again later"
    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        with pytest.raises(TransientDeliveryError) as later:
            await session.send(m.sender, m.recipient, m.raw)
    assert later.value.code == 450


async def test_no_server_is_a_transient_error_without_a_code() -> None:
    with pytest.raises(TransientDeliveryError) as down:
        async with SmtpTransport("127.0.0.1", free_port(), timeout_seconds=2).session():
            pass
    assert down.value.code == 0


async def test_a_session_reconnects_after_the_server_went_away(smtp_sink: SmtpSink) -> None:
    messages = invites()
    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        await session.send(messages[0].sender, messages[0].recipient, messages[0].raw)
        smtp_sink.stop()
        with pytest.raises(TransientDeliveryError):
            await session.send(messages[1].sender, messages[1].recipient, messages[1].raw)
        smtp_sink.start()
        await session.send(messages[1].sender, messages[1].recipient, messages[1].raw)
    assert [r.message_id for r in smtp_sink.received] == [messages[0].message_id, messages[1].message_id]


async def test_a_send_waits_for_ready_before_the_end_of_data_and_nothing_arrives_before(smtp_sink: SmtpSink) -> None:
    m = invites(1)[0]
    gate = asyncio.Event()

    async def ready() -> None:
        await asyncio.sleep(0.2)  # the server has the envelope and the content, not the end of the data
        assert smtp_sink.count() == 0
        await gate.wait()

    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        sending = asyncio.create_task(session.send(m.sender, m.recipient, m.raw, ready=ready))
        await asyncio.sleep(0.3)
        assert smtp_sink.count() == 0 and not sending.done()
        gate.set()
        await sending
    assert smtp_sink.message_ids() == Counter({m.message_id: 1})
    assert smtp_sink.received[0].content.rstrip(b"\r\n") == m.raw.rstrip(b"\r\n")


async def test_a_ready_that_raises_abandons_the_message_and_the_session_goes_on(smtp_sink: SmtpSink) -> None:
    first, second = invites(1)

    async def refuse() -> None:
        raise LookupError("the previous message could not be recorded")

    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        with pytest.raises(LookupError):
            await session.send(first.sender, first.recipient, first.raw, ready=refuse)
        await asyncio.sleep(0.2)
        assert smtp_sink.count() == 0  # the server discarded the unfinished transaction
        await session.send(second.sender, second.recipient, second.raw)
    assert smtp_sink.message_ids() == Counter({second.message_id: 1})


async def test_content_lines_starting_with_a_dot_arrive_unchanged(smtp_sink: SmtpSink) -> None:
    raw = b"Message-ID: <dots@example.org>\r\nSubject: dots\r\n\r\n.first\r\n..second\r\n.\r\nlast"
    async with SmtpTransport(smtp_sink.host, smtp_sink.port).session() as session:
        await session.send("a@example.org", "b@example.org", raw, ready=_nothing)
    assert smtp_sink.received[0].content == raw + b"\r\n"


async def _nothing() -> None:
    return None
