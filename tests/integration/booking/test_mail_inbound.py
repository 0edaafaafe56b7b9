"""The inbound SMTP listener: replies sent with smtplib reach the ingest callback; failures are safe."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from services.booking.adapters.inbound_smtp import InboundSmtpServer
from services.booking.invites.model import (
    AttendeeReplyState,
    BookingReplyState,
    ItipResponse,
    PartStat,
    ReplyDecision,
    ReplyOutcome,
)
from services.booking.invites.replies import decide, parse_itip_message

REPLY_ICS = (
    "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nMETHOD:REPLY\r\n"
    "BEGIN:VEVENT\r\nDTSTAMP:20260402T101500Z\r\nUID:bk-1@rendezvous.example\r\nSEQUENCE:0\r\n"
    "ORGANIZER:mailto:invites@mail.northwind.example\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob:MAILTO:Bob@Fabrikam.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
REPLY = (
    "From: Bob <bob@fabrikam.example>\r\nTo: invites@mail.northwind.example\r\nSubject: Accepted: Planning\r\n"
    "Message-ID: <r1@fabrikam.example>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n" + REPLY_ICS
).encode()

BOOKING = BookingReplyState(
    booking_id="bk-1",
    uid="bk-1@rendezvous.example",
    sequence=0,
    parties=(AttendeeReplyState("alice@northwind.example"), AttendeeReplyState("bob@fabrikam.example")),
    organizer_email="alice@northwind.example",
)


class Ingest:
    """Stands in for the core's ingest use case: parse, decide against one booking, remember."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.decisions: list[ReplyDecision] = []
        self.fail_with: Exception | None = None

    async def __call__(self, raw: bytes) -> object:
        self.raw.append(raw)
        if self.fail_with:
            raise self.fail_with
        parsed = parse_itip_message(raw)
        if not isinstance(parsed, ItipResponse):
            return parsed
        decision = decide(BOOKING if parsed.uid == BOOKING.uid else None, parsed, received_at=datetime.now(UTC))
        self.decisions.append(decision)
        return decision


@pytest.fixture
async def listener() -> AsyncIterator[tuple[InboundSmtpServer, Ingest]]:
    ingest = Ingest()
    server = InboundSmtpServer(
        ingest, host="127.0.0.1", port=0, max_message_bytes=64 * 1024, accepted_domains={"mail.northwind.example"}
    )
    await server.start()
    try:
        yield server, ingest
    finally:
        await server.stop()


def send(port: int, raw: bytes, to: str = "invites@mail.northwind.example") -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail("bob@fabrikam.example", [to], raw)


async def in_thread(fn: Callable[..., object], *args: object) -> object:
    return await asyncio.to_thread(fn, *args)


Listener = tuple[InboundSmtpServer, Ingest]


async def test_a_reply_sent_over_smtp_reaches_the_callback_and_updates_the_attendee(listener: Listener) -> None:
    server, ingest = listener
    assert server.port != 0
    await in_thread(send, server.port, REPLY)
    assert len(ingest.raw) == 1
    assert ingest.raw[0].rstrip(b"\r\n") == REPLY.rstrip(b"\r\n")
    [decision] = ingest.decisions
    assert (decision.outcome, decision.attendee_email, decision.partstat) == (
        ReplyOutcome.APPLIED,
        "bob@fabrikam.example",
        PartStat.ACCEPTED,
    )
    assert decision.report_to_organizer


async def test_a_rejected_message_is_still_accepted_with_250_so_nothing_bounces(listener: Listener) -> None:
    server, ingest = listener
    refused = await in_thread(send, server.port, b"Subject: hello\r\n\r\nnot a reply\r\n")
    assert refused == {}
    forged = REPLY.replace(b"MAILTO:Bob@Fabrikam.example", b"mailto:mallory@evil.example")
    await in_thread(send, server.port, forged)
    assert len(ingest.raw) == 2
    assert [d.reason for d in ingest.decisions] == ["ATTENDEE_NOT_FOUND"]


async def test_a_failing_callback_answers_451_so_the_sender_retries(listener: Listener) -> None:
    server, ingest = listener
    ingest.fail_with = RuntimeError("database down")
    with pytest.raises(smtplib.SMTPDataError) as answer:
        await in_thread(send, server.port, REPLY)
    assert answer.value.smtp_code == 451
    ingest.fail_with = None
    await in_thread(send, server.port, REPLY)  # the listener is still up
    assert len(ingest.raw) == 2


async def test_an_oversized_message_is_refused_with_552_and_never_reaches_the_callback(listener: Listener) -> None:
    server, ingest = listener
    with pytest.raises(smtplib.SMTPException) as answer:
        await in_thread(send, server.port, REPLY + b"x" * (70 * 1024))
    assert "552" in str(answer.value)
    assert ingest.raw == []


async def test_mail_for_other_domains_is_refused_as_relaying(listener: Listener) -> None:
    server, ingest = listener
    with pytest.raises(smtplib.SMTPRecipientsRefused) as answer:
        await in_thread(send, server.port, REPLY, "someone@elsewhere.example")
    assert answer.value.recipients["someone@elsewhere.example"][0] == 550
    assert ingest.raw == []


async def test_protocol_garbage_does_not_stop_the_listener(listener: Listener) -> None:
    server, ingest = listener
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await reader.readline()  # 220 greeting
    writer.write(b"\x00\xff NONSENSE\r\nDATA\r\nMAIL FROM:<<<>>>\r\n")
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await in_thread(send, server.port, REPLY)
    assert len(ingest.raw) == 1



async def test_stopping_closes_idle_sessions_and_frees_the_port() -> None:
    server = InboundSmtpServer(Ingest(), host="127.0.0.1", port=0)
    await server.start()
    port = server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(b"220")
    await server.stop()
    assert await reader.read() == b""  # the server hung up
    writer.close()
    await writer.wait_closed()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_callback_that_hangs_is_cut_off_with_451() -> None:
    async def stuck(raw: bytes) -> object:
        await asyncio.sleep(3600)
        return None

    server = InboundSmtpServer(stuck, host="127.0.0.1", port=0, callback_timeout_seconds=0.2)
    await server.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as answer:
            await in_thread(send, server.port, REPLY)
        assert answer.value.smtp_code == 451
    finally:
        await server.stop()
