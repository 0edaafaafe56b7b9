"""From a booking to the iMIP messages its latest version needs, queued in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kit.clock import IdGenerator
from services.booking.domain.model import Booking, Party, ResponseStatus
from services.booking.invites.mime import invite_messages
from services.booking.invites.model import (
    EventStatus,
    InviteEvent,
    InviteKind,
    InviteParty,
    OutgoingMessage,
    PartStat,
    Role,
)
from services.booking.ports import InviteComposer, UnitOfWork

PARTSTAT = {
    ResponseStatus.NEEDS_ACTION: PartStat.NEEDS_ACTION,
    ResponseStatus.ACCEPTED: PartStat.ACCEPTED,
    ResponseStatus.TENTATIVE: PartStat.TENTATIVE,
    ResponseStatus.DECLINED: PartStat.DECLINED,
}
RESPONSE = {
    PartStat.NEEDS_ACTION: ResponseStatus.NEEDS_ACTION,
    PartStat.ACCEPTED: ResponseStatus.ACCEPTED,
    PartStat.TENTATIVE: ResponseStatus.TENTATIVE,
    PartStat.DECLINED: ResponseStatus.DECLINED,
    PartStat.DELEGATED: ResponseStatus.NEEDS_ACTION,  # delegated: the delegate's answer is still due
}
#: Kinds whose messages carry the booking's latest version (Booking.delivery reports them).
VERSION_KINDS = frozenset({InviteKind.NEW, InviteKind.UPDATE, InviteKind.CANCEL, InviteKind.UNINVITE})


def _party(party: Party) -> InviteParty:
    return InviteParty(
        email=party.email,
        name=party.display_name,
        role=Role.OPT if party.optional else Role.REQ,
        partstat=PARTSTAT[party.response_status],
    )


def invite_event(booking: Booking) -> InviteEvent:
    """The booking as its invites describe it (attendees are people only: email modes have no rooms)."""
    conferencing = booking.conferencing
    created = bool(conferencing.join_url)  # set only while the meeting exists (even while it is being moved)
    return InviteEvent(
        uid=booking.delivery.ical_uid,
        sequence=booking.delivery.sequence,
        start=booking.start,
        end=booking.end,
        summary=booking.summary,
        organizer_mailbox=booking.invite_sender,
        organizer_name=booking.organizer.display_name or booking.organizer.email,
        organizer_email=booking.organizer.email,
        attendees=tuple(_party(a) for a in booking.attendees),
        time_zone="" if booking.time_zone in ("", "UTC") else booking.time_zone,
        description=booking.description,
        location=booking.location,
        conference_url=conferencing.join_url if created else "",
        conference_details=conferencing.details if created else "",
        conference_name=conferencing.service.label if created else "",
        status=EventStatus.CANCELLED if booking.cancelled else EventStatus.CONFIRMED,
        organizer_partstat=PARTSTAT[booking.organizer.response_status],
    )


class ImipComposer(InviteComposer):
    """The invites package's builders over a booking; Message-IDs from ``ids``."""

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids

    def compose(
        self, booking: Booking, kind: str, stamp: datetime, *, only: Sequence[str] = (),
        removed: Sequence[Party] = (), responder: str = "", note: str = "",
    ) -> list[OutgoingMessage]:
        return invite_messages(
            invite_event(booking),
            kind=InviteKind(kind),
            stamp=stamp,
            unit_name=booking.unit_name,
            booking_id=booking.id,
            ids=self._ids,
            removed=[_party(p) for p in removed],
            only_to=list(only) if only else None,
            responder_email=responder,
            note=note,
        )


async def queue_mail(
    uow: UnitOfWork, composer: InviteComposer, booking: Booking, kind: InviteKind, now: datetime, *,
    only: Sequence[str] = (), removed: Sequence[Party] = (), responder: str = "", note: str = "",
    counts: bool | None = None,
) -> int:
    """Compose and store in the outbox of ``uow``'s transaction; how many messages were queued.
    ``counts``: whether Booking.delivery reports them (default: the kinds that carry a new version)."""
    messages = composer.compose(booking, kind.value, now, only=only, removed=removed, responder=responder, note=note)
    await uow.outbox.add(messages, now, kind=kind.value, counts=kind in VERSION_KINDS if counts is None else counts)
    return len(messages)
