"""CreateBooking: validate, decide, commit the booking with its mail, then reach the provider."""

from __future__ import annotations

from kit.errors import AlreadyExists, Internal
from services.booking.domain.model import (
    Booking,
    Conferencing,
    Delivery,
    DeliveryMethod,
    Party,
    PartyKind,
    ResponseStatus,
)
from services.booking.domain.rules import BookingInput, ValidBooking, validate_booking
from services.booking.invites.model import InviteKind
from services.booking.ports import RequestIdTaken, SlotUnavailable
from services.booking.usecases.common import Deps
from services.booking.usecases.delivery import ProviderWork
from services.booking.usecases.planning import (
    OrganizerPlan,
    check_slot,
    plan_conferencing,
    plan_organizer,
    plan_rooms,
    slot_unavailable,
)


class CreateBooking:
    """Books a meeting.

    Rules, in order: the request is valid (INVALID_ARGUMENT, nothing looked up); a request_id seen
    before returns its booking (same payload) or fails REQUEST_ID_CONFLICT; the unit exists; the
    organizer is verified; rooms only in READ_WRITE; the conferencing asked for can be provided; the
    organizer and rooms are free (availability). Then one transaction writes the booking, its slots
    (the database refuses overlaps) and, in email modes, its invites (outbox). In READ_WRITE the
    native event is created right after; if the provider fails the booking says RETRYING and the
    background worker retries.
    """

    def __init__(self, deps: Deps, work: ProviderWork) -> None:
        self._d = deps
        self._work = work

    async def __call__(self, request: BookingInput) -> Booking:
        valid = validate_booking(request)
        digest = valid.fingerprint()
        if valid.request_id:
            earlier = await self._earlier(valid, digest)
            if earlier is not None:
                return earlier
        plan = await plan_organizer(self._d, valid.org_unit_id, valid.organizer_email)
        rooms = await plan_rooms(self._d, valid.org_unit_id, plan.route, valid.room_emails)
        conferencing = plan_conferencing(valid.conferencing, plan.route, plan.links, valid.organizer_email)
        keys = (valid.organizer_email, *valid.room_emails)
        await check_slot(self._d, valid.org_unit_id, keys, valid.start, valid.end)
        booking = self._new(valid, digest, plan, rooms, conferencing)
        booking = await self._work.create_meeting_inline(booking)
        try:
            await self._commit(booking)
        except SlotUnavailable as exc:
            await self._work.discard_meeting(booking)
            raise await slot_unavailable(self._d, exc, booking) from None
        except RequestIdTaken:
            await self._work.discard_meeting(booking)
            earlier = await self._earlier(valid, digest)
            if earlier is None:
                raise Internal("request_id collided with a booking that cannot be read") from None
            return earlier
        if booking.delivery.method is DeliveryMethod.PROVIDER_EVENT:
            return await self._work.deliver_now(booking.id)
        return booking

    async def _commit(self, booking: Booking) -> None:
        now = booking.create_time
        # The invites are built before the transaction opens, so it holds its locks only for the writes.
        mail = []
        if booking.delivery.method is DeliveryMethod.EMAIL_INVITE:
            mail = self._d.composer.compose(booking, InviteKind.NEW.value, now)
        async with self._d.uow(write=True) as uow:
            await uow.bookings.add(booking)  # RequestIdTaken when a retry of the request won the race
            await uow.outbox.add(mail, now, kind=InviteKind.NEW.value, counts=True)
            await uow.commit()
        self._d.mail_queued()

    async def _earlier(self, valid: ValidBooking, digest: str) -> Booking | None:
        async with self._d.uow() as uow:
            earlier = await uow.bookings.by_request_id(valid.org_unit_id, valid.request_id)
        if earlier is not None and earlier.request_hash != digest:
            raise AlreadyExists(
                "request_id was already used for a different booking",
                reason="REQUEST_ID_CONFLICT",
                metadata={"request_id": valid.request_id},
            )
        return earlier

    def _new(
        self, valid: ValidBooking, digest: str, plan: OrganizerPlan, rooms: tuple[Party, ...], conferencing: Conferencing
    ) -> Booking:
        now = self._d.now()
        booking_id = self._d.ids.new_id()
        account = plan.account
        email_mode = plan.route.access_mode.emails_invites
        organizer = Party(
            email=valid.organizer_email,
            kind=PartyKind.ORGANIZER,
            display_name=valid.organizer_display_name or (account.display_name if account else ""),
            # Emailed invites land pending in the organizer's calendar too; a native event is theirs.
            response_status=ResponseStatus.NEEDS_ACTION if email_mode else ResponseStatus.ACCEPTED,
        )
        attendees = tuple(
            Party(email=a.email, kind=PartyKind.PERSON, display_name=a.display_name, optional=a.optional)
            for a in valid.attendees
        )
        sender = plan.unit.invite_sender_address
        delivery = Delivery(
            method=DeliveryMethod.EMAIL_INVITE if email_mode else DeliveryMethod.PROVIDER_EVENT,
            ical_uid=f"{booking_id}@{sender.rsplit('@', 1)[-1]}" if email_mode else "",
            # READ_WRITE: delivered inline right after the commit; the worker steps in only if that
            # attempt never reports back (the process died), after one lease period.
            next_attempt_time=None if email_mode else now + self._work.lease_period(),
        )
        return Booking(
            id=booking_id,
            org_unit_id=valid.org_unit_id,
            organizer=organizer,
            attendees=attendees,
            rooms=rooms,
            start=valid.start,
            end=valid.end,
            time_zone=valid.time_zone or (account.time_zone if account and account.time_zone else "UTC"),
            summary=valid.summary,
            description=valid.description,
            location=valid.location,
            conferencing=conferencing,
            route=plan.route,
            delivery=delivery,
            invite_sender=sender,
            unit_name=plan.unit.display_name,
            create_time=now,
            update_time=now,
            request_id=valid.request_id,
            request_hash=digest,
        )
