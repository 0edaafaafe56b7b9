"""UpdateBooking and CancelBooking: the next version of a booking, sent the way its mode allows."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from kit.errors import AlreadyExists, FailedPrecondition
from services.booking.domain.changes import Change, Changes, apply_changes, cancel, move_meeting, needs_move
from services.booking.domain.model import Booking, Conferencing, DeliveryMethod, Party, PartyKind
from services.booking.domain.rules import (
    AttendeeInput,
    Problems,
    UpdateInput,
    check_id,
    validate_cancel,
    validate_update,
)
from services.booking.invites.model import InviteKind
from services.booking.ports import SlotUnavailable, UnitOfWork
from services.booking.usecases.common import Deps, booking_not_found
from services.booking.usecases.delivery import ProviderWork
from services.booking.usecases.mail import queue_mail
from services.booking.usecases.planning import (
    check_slot,
    plan_conferencing,
    plan_rooms,
    slot_unavailable,
)

UPDATE_RPC = "UpdateBooking"
CANCEL_RPC = "CancelBooking"


def _cancelled(booking_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"booking {booking_id!r} is cancelled and cannot be changed", reason="BOOKING_CANCELLED",
        metadata={"booking_id": booking_id},
    )


def _conflict(request_id: str) -> AlreadyExists:
    return AlreadyExists(
        "request_id was already used for a different request", reason="REQUEST_ID_CONFLICT",
        metadata={"request_id": request_id},
    )


async def _replayed(uow: UnitOfWork, org: str, rpc: str, request_id: str, digest: str) -> bool:
    """True when this request_id already succeeded with this payload (so nothing is repeated)."""
    if not request_id:
        return False
    seen = await uow.requests.get(org, rpc, request_id)
    if seen is None:
        return False
    if seen[0] != digest:
        raise _conflict(request_id)
    return True


class UpdateBooking:
    """Changes a confirmed booking.

    A new time (or a new room) must be free (availability, then the database), and a new time asks
    every party again. READ_WRITE: the provider event is patched (the provider notifies attendees).
    Email modes: an updated REQUEST with SEQUENCE + 1 to the organizer and the attendees, and a
    CANCEL to attendees no longer invited, committed with the change. A linked Zoom, Webex or Teams
    meeting is moved to the new time and title after the commit (retried in the background while
    the service fails; conferencing says PENDING, then CREATED or FAILED); new conferencing asked
    for is created with the new time, and the old meeting deleted.
    """

    def __init__(self, deps: Deps, work: ProviderWork) -> None:
        self._d = deps
        self._work = work

    async def __call__(self, request: UpdateInput) -> Booking:
        p = Problems()
        check_id(p, "org_unit_id", request.org_unit_id)
        check_id(p, "booking_id", request.booking_id)
        p.raise_if_any()
        digest = request.fingerprint()
        async with self._d.uow() as uow:
            booking = await uow.bookings.get(request.org_unit_id, request.booking_id)
            if booking is None:
                raise booking_not_found(request.booking_id)
            if await _replayed(uow, request.org_unit_id, UPDATE_RPC, request.request_id, digest):
                return booking
        request = validate_update(
            request, booking.organizer.email, booking.start, booking.end,
            [AttendeeInput(a.email, a.display_name, a.optional) for a in booking.attendees],
            [r.email for r in booking.rooms],
        )
        if booking.cancelled:
            raise _cancelled(booking.id)
        changes, planned = await self._plan(booking, request)
        try:
            change = await self._commit(request, digest, changes, planned)
        except SlotUnavailable as exc:
            if changes.conferencing is not None:
                await self._work.discard_meeting(replace(booking, conferencing=changes.conferencing))
            moved = replace(booking, start=changes.start or booking.start, end=changes.end or booking.end,
                            rooms=changes.rooms if changes.rooms is not None else booking.rooms)
            raise await slot_unavailable(self._d, exc, moved) from None
        if changes.conferencing is not None and change.changed:
            await self._work.discard_meeting(booking)
        result = change.booking
        if change.changed and result.conferencing.moving:
            result = await self._work.move_meeting_now(result.id)
        if change.changed and result.delivery.method is DeliveryMethod.PROVIDER_EVENT:
            return await self._work.deliver_now(result.id)
        return result

    async def _plan(self, booking: Booking, request: UpdateInput) -> tuple[Changes, Booking]:
        """Everything decided outside the transaction: rooms, conferencing, the slot. Also the
        booking as planned, whose terms a newly created meeting was given."""
        org = booking.org_unit_id
        rooms: tuple[Party, ...] | None = None
        if request.has("rooms") and tuple(request.room_emails) != tuple(r.email for r in booking.rooms):
            rooms = await plan_rooms(self._d, org, booking.route, request.room_emails)
        start = request.start if request.has("start_time") and request.start else booking.start
        end = request.end if request.has("end_time") and request.end else booking.end
        planned = replace(
            booking, start=start, end=end,
            summary=request.summary if request.has("summary") else booking.summary,
            description=request.description if request.has("description") else booking.description,
            time_zone=(request.time_zone or booking.time_zone) if request.has("time_zone") else booking.time_zone,
        )
        conferencing: Conferencing | None = None
        if request.has("conferencing") and request.conferencing is not booking.conferencing.requested:
            resolution = await self._d.directory.resolve(org, booking.organizer.email)
            conferencing = plan_conferencing(request.conferencing, booking.route, resolution.links, booking.organizer.email)
            conferencing = (await self._work.create_meeting_inline(replace(planned, conferencing=conferencing))).conferencing
        keys = (booking.organizer.email, *(r.email for r in (rooms if rooms is not None else booking.rooms)))
        if (start, end) != (booking.start, booking.end):
            await check_slot(self._d, org, keys, start, end, exclude_booking=booking.id, held=(booking.start, booking.end))
        elif rooms is not None:
            added = [r.email for r in rooms if booking.party(r.email) is None]
            if added:
                await check_slot(self._d, org, added, start, end, exclude_booking=booking.id)
        return Changes(
            summary=request.summary if request.has("summary") else None,
            description=request.description if request.has("description") else None,
            location=request.location if request.has("location") else None,
            start=start,
            end=end,
            time_zone=request.time_zone if request.has("time_zone") else None,
            attendees=tuple(
                Party(email=a.email, kind=PartyKind.PERSON, display_name=a.display_name, optional=a.optional)
                for a in request.attendees
            ) if request.has("attendees") else None,
            rooms=rooms,
            conferencing=conferencing,
        ), planned

    async def _commit(self, request: UpdateInput, digest: str, changes: Changes, planned: Booking) -> Change:
        now = self._d.now()
        async with self._d.uow(write=True) as uow:
            current = await uow.bookings.get(request.org_unit_id, request.booking_id)
            if current is None:
                raise booking_not_found(request.booking_id)
            if await _replayed(uow, request.org_unit_id, UPDATE_RPC, request.request_id, digest):
                return Change(current, (), False, False)
            if current.cancelled:
                raise _cancelled(current.id)
            change = apply_changes(current, changes, now, now + self._work.lease_period())
            if changes.conferencing is not None and needs_move(planned, change.booking):
                # the new meeting was made for the planned terms; another change since moved the booking
                change = replace(change, booking=move_meeting(change.booking, now + self._work.lease_period()))
            if change.changed:
                await uow.bookings.save(change.booking)
                if change.booking.delivery.method is DeliveryMethod.EMAIL_INVITE:
                    await queue_mail(uow, self._d.composer, change.booking, InviteKind.UPDATE, now)
                    if change.removed:
                        await queue_mail(uow, self._d.composer, change.booking, InviteKind.UNINVITE, now,
                                         removed=change.removed)
            if request.request_id:
                await uow.requests.add(request.org_unit_id, UPDATE_RPC, request.request_id, digest, current.id, now)
            await uow.commit()
        self._d.mail_queued()
        return change


class CancelBooking:
    """Cancels a booking: its time is free at once. READ_WRITE: the provider event is deleted (the
    provider notifies attendees). Email modes: a CANCEL with SEQUENCE + 1 to the organizer and every
    attendee, committed with the cancellation. Cancelling a cancelled booking changes and sends nothing.
    """

    def __init__(self, deps: Deps, work: ProviderWork) -> None:
        self._d = deps
        self._work = work

    async def __call__(self, org_unit_id: str, booking_id: str, reason: str = "", request_id: str = "") -> Booking:
        validate_cancel(org_unit_id, booking_id, reason, request_id)
        digest = hashlib.sha256(f"{booking_id}\n{reason}".encode()).hexdigest()
        now = self._d.now()
        async with self._d.uow(write=True) as uow:
            booking = await uow.bookings.get(org_unit_id, booking_id)
            if booking is None:
                raise booking_not_found(booking_id)
            if await _replayed(uow, org_unit_id, CANCEL_RPC, request_id, digest) or booking.cancelled:
                return booking
            cancelled = cancel(booking, reason, now, now + self._work.lease_period())
            await uow.bookings.save(cancelled)
            if cancelled.delivery.method is DeliveryMethod.EMAIL_INVITE:
                await queue_mail(uow, self._d.composer, cancelled, InviteKind.CANCEL, now)
            if request_id:
                await uow.requests.add(org_unit_id, CANCEL_RPC, request_id, digest, booking_id, now)
            await uow.commit()
        self._d.mail_queued()
        await self._work.discard_meeting(cancelled)
        if cancelled.delivery.method is DeliveryMethod.PROVIDER_EVENT:
            return await self._work.deliver_now(booking_id)
        return cancelled
