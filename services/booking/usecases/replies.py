"""IngestEmail: an attendee's iTIP REPLY / COUNTER / REFRESH, from SMTP or the RPC.

The booking is found by the iCalendar UID and the answering ATTENDEE, never by the From header.
Every inbound message is logged with its outcome; unusable mail is answered REJECTED, never raised.
An applied answer is reported back to the human organizer's calendar: an updated REQUEST with the
SAME SEQUENCE (RFC 5546 §2.1.4: a change of attendee status is not a significant revision, so the
organizer's copy takes it by the newer DTSTAMP without asking anyone to answer again).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace

from services.booking.domain.changes import answer
from services.booking.domain.model import Booking, DeliveryMethod, ResponseStatus
from services.booking.invites import replies
from services.booking.invites.model import (
    AttendeeReplyState,
    BookingReplyState,
    InviteKind,
    ItipResponse,
    MessageRejected,
    ReplyDecision,
    ReplyOutcome,
    ResponseMethod,
)
from services.booking.ports import ReplyLogEntry, UnitOfWork
from services.booking.usecases.common import Deps
from services.booking.usecases.mail import PARTSTAT, RESPONSE, queue_mail

log = logging.getLogger("rendezvous.booking.replies")


@dataclass(frozen=True)
class IngestResult:
    outcome: ReplyOutcome
    booking_id: str = ""
    attendee_email: str = ""
    response_status: ResponseStatus | None = None
    reason: str = ""


def reply_state(booking: Booking) -> BookingReplyState:
    return BookingReplyState(
        booking_id=booking.id,
        uid=booking.delivery.ical_uid,
        sequence=booking.delivery.sequence,
        parties=tuple(
            AttendeeReplyState(p.email, PARTSTAT[p.response_status], p.last_sequence, p.last_dtstamp)
            for p in (booking.organizer, *booking.attendees)
        ),
        cancelled=booking.cancelled,
        organizer_email=booking.organizer.email,
    )


class IngestEmail:
    """Applies one inbound message (see the module docstring for the rules)."""

    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def __call__(self, raw: bytes, *, source: str = "rpc") -> IngestResult:
        now = self._d.now()
        digest = hashlib.sha256(raw).hexdigest()
        parsed = replies.parse_itip_message(raw)
        if isinstance(parsed, MessageRejected):
            result = IngestResult(ReplyOutcome.REJECTED, reason=parsed.reason.value)
            entry = ReplyLogEntry(now, result.outcome.value, result.reason, parsed.detail[:500], len(raw), digest,
                                  method=parsed.method, source=source)
            async with self._d.uow(write=True) as uow:
                await uow.replies.add(entry)
                await uow.commit()
            self._log(entry)
            return result
        async with self._d.uow(write=True) as uow:
            booking = await uow.bookings.by_ical_uid(parsed.uid)
            state = reply_state(booking) if booking is not None else None
            decision = replies.decide(state, parsed, received_at=now)
            if booking is not None and decision.outcome is ReplyOutcome.APPLIED:
                await self._apply(uow, booking, parsed, decision)
            status = RESPONSE[decision.partstat] if decision.partstat and decision.outcome is ReplyOutcome.APPLIED else None
            result = IngestResult(decision.outcome, decision.booking_id, decision.attendee_email, status, decision.reason)
            entry = ReplyLogEntry(
                now, result.outcome.value, result.reason, f"{parsed.method.value} uid={parsed.uid}"[:500], len(raw),
                digest, booking_id=decision.booking_id, attendee_email=decision.attendee_email,
                method=parsed.method.value, source=source,
            )
            await uow.replies.add(entry)
            await uow.commit()
        self._d.mail_queued()
        self._log(entry)
        return result

    async def _apply(self, uow: UnitOfWork, booking: Booking, parsed: ItipResponse, decision: ReplyDecision) -> None:
        now = self._d.now()
        party = booking.party(decision.attendee_email)
        assert party is not None  # decide() only applies answers of known parties
        emailed = booking.delivery.method is DeliveryMethod.EMAIL_INVITE  # else the provider mails natively
        if decision.resend_latest:  # REFRESH: the latest version again, to that attendee only
            if not emailed:
                return
            kind = InviteKind.CANCEL if booking.cancelled else InviteKind.UPDATE
            await queue_mail(uow, self._d.composer, booking, kind, now, only=[party.email], counts=False)
            return
        proposed = (decision.proposed_start, decision.proposed_end) if decision.proposed_start and decision.proposed_end else None
        status = RESPONSE[decision.partstat] if decision.partstat else party.response_status
        updated = answer(
            party, status, comment=decision.comment, proposed=proposed,
            at=decision.responded_at or now, sequence=decision.sequence, dtstamp=parsed.dtstamp or decision.responded_at,
        )
        booking = replace(booking.with_party(updated), update_time=now)
        await uow.bookings.save_party(booking, updated.email)
        if decision.report_to_organizer and emailed:
            note = ""
            if parsed.method is ResponseMethod.COUNTER and proposed:
                note = f"{updated.display_name or updated.email} proposed another time: {proposed[0]:%Y-%m-%d %H:%M} to {proposed[1]:%Y-%m-%d %H:%M} UTC"
            await queue_mail(uow, self._d.composer, booking, InviteKind.RESPONSE, now,
                             only=[booking.organizer.email], responder=updated.email, note=note)

    @staticmethod
    def _log(entry: ReplyLogEntry) -> None:
        log.info("inbound mail", extra={
            "outcome": entry.outcome, "reason": entry.reason, "booking_id": entry.booking_id,
            "attendee": entry.attendee_email, "method": entry.method, "source": entry.source, "size": entry.size,
        })
