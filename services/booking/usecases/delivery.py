"""Provider work after the booking decision: native events (READ_WRITE) and conferencing meetings.

Nothing here claims what did not happen: a booking's delivery is DELIVERED only once the provider
accepted its latest version, a join link is stored only once the meeting exists, and a linked
meeting whose booking moved is CREATED again only once the service took the new time. Failures worth
retrying leave the work due again later (RETRYING / conferencing PENDING) with exponential backoff,
bounded by the retry policy; refusals and exhausted retries end FAILED with the reason.

Background work is leased per booking through the database, so several replicas never do the same
booking's work at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from kit.errors import DeadlineExceeded, RendezvousError, Unavailable
from kit.tokens import with_replaced_token
from services.booking.domain.changes import move_meeting
from services.booking.domain.model import (
    AccessMode,
    Booking,
    Conferencing,
    ConferencingState,
    DeliveryMethod,
    DeliveryState,
    Provider,
)
from services.booking.invites.model import InviteKind
from services.booking.ports import Meeting, ProviderEvent, TokenRejected, UnitOfWork
from services.booking.usecases.common import Deps
from services.booking.usecases.mail import queue_mail

T = TypeVar("T")
log = logging.getLogger("rendezvous.booking.delivery")

DELIVERY = "delivery"
CONFERENCING = "conferencing"


@dataclass(frozen=True)
class Failure:
    transient: bool
    message: str


class _Deleted:
    """The provider event is gone (deleted now, or never existed)."""


DELETED = _Deleted()


class _Gone:
    """The conferencing service no longer knows the booking's meeting."""


GONE = _Gone()


def _classify(call_name: str, error: BaseException) -> Failure:
    if isinstance(error, Unavailable | DeadlineExceeded):
        return Failure(True, error.message)
    if isinstance(error, RendezvousError):
        return Failure(False, error.message)
    log.exception("unexpected failure in %s", call_name, exc_info=error)
    return Failure(True, f"unexpected error in {call_name}")


class ProviderWork:
    """Native events and conferencing meetings for bookings, inline and in the background."""

    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def _with_token(self, booking: Booking, credential_id: str, call: Callable[[str], Awaitable[T]]) -> T:
        """``call`` with an access token for the organizer; when the provider refuses the token
        itself (401: revoked or rotated there before it expired), once more with a token identity is
        told to replace (``rejected``). A second refusal goes to the caller (retried later)."""
        def token(rejected: str) -> Awaitable[str]:
            return self._d.identity.access_token(booking.org_unit_id, credential_id, booking.organizer.email,
                                                 rejected=rejected)  # fmt: skip

        return await with_replaced_token(token, call, TokenRejected)

    # --------------------------------------------------------------------- conferencing meetings

    async def create_meeting_inline(self, booking: Booking) -> Booking:
        """Before the booking commits: a few quick tries at the linked conferencing service. The
        booking comes back CREATED with the link, or PENDING (retried in the background), or FAILED."""
        conf = booking.conferencing
        if conf.native or conf.state is not ConferencingState.PENDING:
            return booking
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._try_meeting(booking)
            if isinstance(outcome, Meeting):
                return _with_meeting(booking, outcome, attempt)
            if not outcome.transient or attempt >= self._d.policy.conferencing_inline_attempts:
                return self._meeting_failed(booking, outcome, attempt)
            await self._d.sleep(min(1.0, self._d.policy.base_seconds / 4 * attempt))

    async def discard_meeting(self, booking: Booking) -> None:
        """Best effort: delete a linked meeting nobody will use (the booking did not commit, or was
        cancelled or given another meeting), whatever its state (also while it was being moved)."""
        conf = booking.conferencing
        if not conf.linked_meeting:
            return
        try:
            await self._with_token(booking, conf.credential_id, lambda token: self._d.meetings.delete(booking, token))
        except Exception as exc:  # best effort: an orphan meeting harms nobody
            log.warning("could not delete meeting %s of booking %s: %s", conf.meeting_id, booking.id, exc)

    async def _try_meeting(self, booking: Booking) -> Meeting | Failure:
        conf = booking.conferencing
        try:
            return await self._with_token(booking, conf.credential_id,
                                          lambda token: self._d.meetings.create(booking, token))  # fmt: skip
        except Exception as exc:
            return _classify(f"{conf.service.value} meeting", exc)

    async def move_meeting_now(self, booking_id: str) -> Booking:
        """Give the booking's linked meeting its new time and title now, unless a worker already holds
        the booking's conferencing work (it retries with backoff after a failure)."""
        now = self._d.now()
        async with self._d.uow(write=True) as uow:
            leased = await uow.bookings.try_lease(CONFERENCING, booking_id, now, now + self.lease_period())
            await uow.commit()
        if leased:
            await self._conference_leased(booking_id)
        async with self._d.uow() as uow:
            booking = await uow.bookings.by_id(booking_id)
        assert booking is not None
        return booking

    async def _try_move(self, booking: Booking) -> Meeting | _Gone | Failure:
        conf = booking.conferencing
        try:
            moved = await self._with_token(booking, conf.credential_id,
                                           lambda token: self._d.meetings.update(booking, token))  # fmt: skip
        except Exception as exc:
            failure = _classify(f"{conf.service.value} meeting update", exc)
            return Failure(failure.transient, f"the {conf.service.label} meeting could not be moved to the "
                                              f"booking's time yet: {failure.message}")
        return GONE if moved is None else moved

    def _after_move(
        self, current: Booking, sent: Booking, outcome: Meeting | _Gone | Failure, now: datetime
    ) -> tuple[Booking, bool]:
        """The booking after a move of its meeting that used ``sent``'s terms; True when the join
        link changed (a new version carries it)."""
        conf = current.conferencing
        attempt = conf.attempts + 1
        if isinstance(outcome, Failure):
            return self._meeting_failed(current, outcome, attempt), False
        if isinstance(outcome, _Gone):
            label = conf.service.label
            return replace(current, conferencing=replace(
                conf, state=ConferencingState.FAILED, meeting_id="", join_url="", passcode="", attempts=attempt,
                next_attempt_time=None,
                failure_message=f"the {label} meeting no longer exists at {label}; the booking has no meeting link",
            )), False
        moved = _with_meeting(current, outcome, attempt)
        if current.meeting_terms != sent.meeting_terms:  # changed again meanwhile: that move is due now
            moved = move_meeting(moved, now)
        return moved, outcome.join_url != conf.join_url

    def _meeting_failed(self, booking: Booking, failure: Failure, attempt: int) -> Booking:
        policy = self._d.policy
        conf = booking.conferencing
        if failure.transient and attempt < policy.conferencing_max_attempts:
            conf = replace(conf, attempts=attempt, failure_message=failure.message,
                           next_attempt_time=self._d.now() + policy.backoff(attempt))
        else:
            conf = replace(conf, state=ConferencingState.FAILED, attempts=attempt, failure_message=failure.message,
                           next_attempt_time=None)
        return replace(booking, conferencing=conf)

    # --------------------------------------------------------------------- native provider events

    async def deliver_now(self, booking_id: str) -> Booking:
        """Push the booking's latest version to the provider now, unless a worker already holds it."""
        now = self._d.now()
        async with self._d.uow(write=True) as uow:
            leased = await uow.bookings.try_lease(DELIVERY, booking_id, now, now + self.lease_period())
            await uow.commit()
        if leased:
            await self._deliver_leased(booking_id)
        async with self._d.uow() as uow:
            booking = await uow.bookings.by_id(booking_id)
        assert booking is not None
        return booking

    async def _deliver_leased(self, booking_id: str) -> None:
        async with self._d.uow() as uow:
            booking = await uow.bookings.by_id(booking_id)
        if booking is None:
            return
        if booking.delivery.method is not DeliveryMethod.PROVIDER_EVENT or booking.delivery.state in (
            DeliveryState.DELIVERED, DeliveryState.FAILED,
        ):
            async with self._d.uow(write=True) as uow:
                await uow.bookings.release(DELIVERY, booking_id)
                await uow.commit()
            return
        result = await self._call_provider(booking)
        now = self._d.now()
        async with self._d.uow(write=True) as uow:
            current = await uow.bookings.by_id(booking_id)
            if current is not None:
                await uow.bookings.save_row(self._after_delivery(current, booking.version, result, now))
            await uow.bookings.release(DELIVERY, booking_id)
            await uow.commit()

    async def _call_provider(self, booking: Booking) -> ProviderEvent | _Deleted | Failure:
        route = booking.route
        try:
            if booking.cancelled:
                if booking.delivery.provider_event_id or route.provider is Provider.GOOGLE:
                    await self._with_token(booking, route.credential_id, lambda token: self._d.events.delete(booking, token))
                return DELETED
            if not booking.delivery.provider_event_id:
                return await self._with_token(booking, route.credential_id,
                                              lambda token: self._d.events.create(booking, token))  # fmt: skip
            return await self._with_token(booking, route.credential_id, lambda token: self._d.events.update(booking, token))
        except Exception as exc:
            return _classify(f"{route.provider.value} event", exc)

    def _after_delivery(
        self, booking: Booking, version: int, result: ProviderEvent | _Deleted | Failure, now: datetime
    ) -> Booking:
        policy = self._d.policy
        d = booking.delivery
        attempts = d.attempt_count + 1
        if isinstance(result, Failure):
            final = not result.transient or attempts >= policy.delivery_max_attempts
            d = replace(
                d, state=DeliveryState.FAILED if final else DeliveryState.RETRYING, last_error=result.message,
                attempt_count=attempts, last_attempt_time=now,
                next_attempt_time=None if final else now + policy.backoff(attempts),
            )
            booking = replace(booking, delivery=d)
            conf = booking.conferencing
            if final and conf.native and conf.state is ConferencingState.PENDING and not d.provider_event_id:
                booking = replace(booking, conferencing=replace(
                    conf, state=ConferencingState.FAILED, next_attempt_time=None,
                    failure_message=f"the calendar event could not be created: {result.message}"))
            return booking
        current = booking.version == version
        d = replace(
            d, last_error="", attempt_count=attempts, last_attempt_time=now,
            state=DeliveryState.DELIVERED if current else DeliveryState.PENDING,
            deliver_time=now if current else d.deliver_time, next_attempt_time=None if current else now,
        )
        if isinstance(result, ProviderEvent):
            d = replace(d, provider_event_id=result.event_id or d.provider_event_id, ical_uid=result.ical_uid or d.ical_uid)
            booking = self._native_link(replace(booking, delivery=d), result, now)
        else:
            booking = replace(booking, delivery=d)
        return booking

    def _native_link(self, booking: Booking, event: ProviderEvent, now: datetime) -> Booking:
        conf = booking.conferencing
        if not conf.native or conf.state is not ConferencingState.PENDING:
            return booking
        if event.join_url:
            conf = replace(conf, state=ConferencingState.CREATED, join_url=event.join_url,
                           meeting_id=event.conference_id, failure_message="", next_attempt_time=None)
        elif event.conference_pending:
            conf = replace(conf, next_attempt_time=now + self._d.policy.backoff(1))
        else:
            conf = replace(conf, state=ConferencingState.FAILED, next_attempt_time=None,
                           failure_message="the provider created the event without a meeting link")
        return replace(booking, conferencing=conf)

    # ------------------------------------------------------------------------- background step

    async def run_due(self, limit: int = 20) -> int:
        """One pass of the background worker: due provider deliveries, then due conferencing.
        Returns how many bookings it worked on."""
        now = self._d.now()
        async with self._d.uow(write=True) as uow:
            deliveries = await uow.bookings.lease_due(DELIVERY, now, now + self.lease_period(), limit)
            meetings = await uow.bookings.lease_due(CONFERENCING, now, now + self.lease_period(), limit)
            await uow.commit()
        for booking_id in deliveries:
            try:
                await self._deliver_leased(booking_id)
            except Exception:
                log.exception("delivery of booking %s failed unexpectedly", booking_id)
        for booking_id in meetings:
            try:
                await self._conference_leased(booking_id)
            except Exception:
                log.exception("conferencing of booking %s failed unexpectedly", booking_id)
        return len(deliveries) + len(meetings)

    async def _conference_leased(self, booking_id: str) -> None:
        async with self._d.uow() as uow:
            booking = await uow.bookings.by_id(booking_id)
        if booking is None:
            return
        conf = booking.conferencing
        outcome: Meeting | ProviderEvent | Failure | _Gone | None = None
        if conf.state is ConferencingState.PENDING and not booking.cancelled:
            if conf.native:
                outcome = await self._read_native(booking)
            elif conf.moving:
                outcome = await self._try_move(booking)
            else:
                outcome = await self._try_meeting(booking)
        redeliver = False
        discard: Booking | None = None
        async with self._d.uow(write=True) as uow:
            current = await uow.bookings.by_id(booking_id)
            if current is not None and current.conferencing.state is ConferencingState.PENDING:
                now = self._d.now()
                updated = current
                if not _same_meeting(current.conferencing, conf):
                    # The booking was given other conferencing meanwhile: this outcome is about a
                    # meeting it no longer has (a moved one was deleted; a new one is deleted now).
                    if isinstance(outcome, Meeting) and not conf.moving:
                        discard = _with_meeting(booking, outcome, conf.attempts + 1)
                elif current.cancelled:
                    updated = replace(current, conferencing=replace(
                        current.conferencing, state=ConferencingState.FAILED, next_attempt_time=None,
                        failure_message="the booking was cancelled before the meeting was created"))
                    if isinstance(outcome, Meeting):
                        discard = _with_meeting(current, outcome, current.conferencing.attempts + 1)
                elif conf.moving and outcome is not None and not isinstance(outcome, ProviderEvent):
                    updated, link_changed = self._after_move(current, booking, outcome, now)
                    if link_changed:
                        updated, redeliver = await self._send_link(uow, updated, now)
                elif isinstance(outcome, Meeting):
                    updated = _with_meeting(current, outcome, current.conferencing.attempts + 1)
                    if current.conferencing.service.scheduled and current.meeting_terms != booking.meeting_terms:
                        updated = move_meeting(updated, now)  # created with terms the booking changed since
                    updated, redeliver = await self._send_link(uow, updated, now)
                elif isinstance(outcome, ProviderEvent):
                    updated = self._native_link(current, outcome, now)
                elif isinstance(outcome, Failure):
                    updated = self._meeting_failed(current, outcome, current.conferencing.attempts + 1)
                else:  # native link not readable yet (no event): look again later
                    updated = replace(current, conferencing=replace(
                        current.conferencing, next_attempt_time=now + self._d.policy.backoff(1)))
                await uow.bookings.save_row(updated)
            await uow.bookings.release(CONFERENCING, booking_id)
            await uow.commit()
        self._d.mail_queued()
        if discard is not None:
            await self.discard_meeting(discard)
        if redeliver:
            await self.deliver_now(booking_id)

    async def _read_native(self, booking: Booking) -> ProviderEvent | Failure | None:
        if not booking.delivery.provider_event_id:
            if booking.delivery.state is DeliveryState.FAILED:
                return Failure(False, "the calendar event could not be created")
            return None
        try:
            return await self._with_token(booking, booking.route.credential_id,
                                          lambda token: self._d.events.get(booking, token))  # fmt: skip
        except Exception as exc:
            return _classify("native conferencing", exc)

    async def _send_link(self, uow: UnitOfWork, booking: Booking, now: datetime) -> tuple[Booking, bool]:
        """A meeting created after the invite went out: a new version carrying the link."""
        d = booking.delivery
        if booking.route.access_mode is AccessMode.READ_WRITE:
            d = replace(d, state=DeliveryState.PENDING, attempt_count=0, last_error="", next_attempt_time=now)
            return replace(booking, version=booking.version + 1, delivery=d, update_time=now), True
        d = replace(d, state=DeliveryState.PENDING, sequence=d.sequence + 1, attempt_count=0, last_error="",
                    deliver_time=None)
        booking = replace(booking, version=booking.version + 1, delivery=d, update_time=now)
        await queue_mail(uow, self._d.composer, booking, InviteKind.UPDATE, now)
        return booking, False

    def lease_period(self) -> timedelta:
        return timedelta(seconds=self._d.policy.lease_seconds)


def _same_meeting(a: Conferencing, b: Conferencing) -> bool:
    """Both describe the same meeting (or the same meeting still to be created)."""
    return (a.service, a.connection_id, a.native, a.meeting_id) == (b.service, b.connection_id, b.native, b.meeting_id)


def _with_meeting(booking: Booking, meeting: Meeting, attempt: int) -> Booking:
    return replace(booking, conferencing=replace(
        booking.conferencing, state=ConferencingState.CREATED, join_url=meeting.join_url,
        meeting_id=meeting.meeting_id, passcode=meeting.passcode, failure_message="", attempts=attempt,
        next_attempt_time=None,
    ))
