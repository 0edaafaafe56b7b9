"""Deciding a booking before anything is written: who organizes and how their calendar is reached,
which rooms, which conferencing, and whether the time is still free."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kit.errors import Aborted, FailedPrecondition, NotFound
from services.booking.domain.model import (
    AccessMode,
    Booking,
    CalendarRoute,
    Conferencing,
    ConferencingChoice,
    ConferencingService,
    ConferencingState,
    Party,
    PartyKind,
    Provider,
    overlaps,
)
from services.booking.ports import Account, ConferencingLink, FreeBusy, OrgUnit, SlotUnavailable
from services.booking.usecases.common import Deps

_NATIVE = {
    (Provider.GOOGLE, ConferencingChoice.DEFAULT): ConferencingService.GOOGLE_MEET,
    (Provider.GOOGLE, ConferencingChoice.GOOGLE_MEET): ConferencingService.GOOGLE_MEET,
    (Provider.MICROSOFT, ConferencingChoice.DEFAULT): ConferencingService.MICROSOFT_TEAMS,
    (Provider.MICROSOFT, ConferencingChoice.MICROSOFT_TEAMS): ConferencingService.MICROSOFT_TEAMS,
}


@dataclass(frozen=True)
class OrganizerPlan:
    unit: OrgUnit
    route: CalendarRoute
    account: Account | None
    links: tuple[ConferencingLink, ...]


async def plan_organizer(deps: Deps, org_unit_id: str, email: str) -> OrganizerPlan:
    """The unit (NOT_FOUND), the organizer verified (FAILED_PRECONDITION ORGANIZER_NOT_VERIFIED) and
    the ACTIVE calendar connection serving their domain."""
    unit, verification, resolution = await _gather_in_order(
        deps.directory.get_unit(org_unit_id),
        deps.identity.verify_organizer(org_unit_id, email),
        deps.directory.resolve(org_unit_id, email),
    )
    if not verification.verified:
        raise FailedPrecondition(
            f"{email} is not a verified organizer in this unit ({verification.reason or 'not verified'})",
            reason="ORGANIZER_NOT_VERIFIED",
            metadata={"email": email, "verification_reason": verification.reason},
        )
    route = resolution.route
    if route is None:
        domain = email.rsplit("@", 1)[-1]
        raise FailedPrecondition(
            f"no calendar connection serves {domain}", reason="EMAIL_DOMAIN_NOT_SERVED",
            metadata={"email": email, "domain": domain},
        )
    if not resolution.route_active:
        raise FailedPrecondition(
            f"the calendar connection serving {email} is not active ({resolution.route_state})",
            reason="CONNECTION_NOT_ACTIVE",
            metadata={"connection_id": route.calendar_connection_id, "state": resolution.route_state},
        )
    account = resolution.account
    if route.provider is Provider.MICROSOFT and account is not None and account.external_id:
        route = replace(route, mailbox_user_id=account.external_id)
    return OrganizerPlan(unit, route, account, resolution.links)


async def plan_rooms(deps: Deps, org_unit_id: str, route: CalendarRoute, emails: Sequence[str]) -> tuple[Party, ...]:
    """Rooms of the unit (NOT_FOUND ROOM_NOT_FOUND), only when the organizer's mode can invite them."""
    if not emails:
        return ()
    if route.access_mode is not AccessMode.READ_WRITE:
        raise FailedPrecondition(
            f"rooms cannot be invited in {route.access_mode.value} mode (only READ_WRITE)",
            reason="ROOMS_NOT_SUPPORTED_IN_MODE",
            metadata={"access_mode": route.access_mode.value},
        )
    answers = await asyncio.gather(*(deps.directory.resolve(org_unit_id, e) for e in emails))
    rooms = []
    for email, answer in zip(emails, answers, strict=True):
        if answer.room is None:
            raise NotFound(f"{email} is not a room of this unit", reason="ROOM_NOT_FOUND", metadata={"email": email})
        rooms.append(Party(email=email, kind=PartyKind.ROOM, display_name=answer.room.display_name))
    return tuple(rooms)


def plan_conferencing(
    choice: ConferencingChoice, route: CalendarRoute, links: Sequence[ConferencingLink], organizer: str
) -> Conferencing:
    """Native Meet/Teams in READ_WRITE, else a conferencing account linked to the organizer's email
    (FAILED_PRECONDITION CONFERENCING_NOT_CONNECTED when none fits)."""
    if choice is ConferencingChoice.NONE:
        return Conferencing()
    if route.access_mode is AccessMode.READ_WRITE:
        native = _NATIVE.get((route.provider, choice))
        if native is not None:
            return Conferencing(requested=choice, service=native, state=ConferencingState.PENDING, native=True)
    wanted = None if choice is ConferencingChoice.DEFAULT else ConferencingService(choice.value)
    link = next((link for link in links if wanted is None or link.service is wanted), None)
    if link is None:
        raise FailedPrecondition(
            f"no {'' if wanted is None else wanted.label + ' '}conferencing account is linked to {organizer}",
            reason="CONFERENCING_NOT_CONNECTED",
            metadata={"email": organizer, "conferencing": choice.value},
        )
    return Conferencing(
        requested=choice,
        service=link.service,
        state=ConferencingState.PENDING,
        connection_id=link.connection_id,
        credential_id=link.credential_id,
        host_user_id=link.external_user_id,
    )


async def check_slot(
    deps: Deps,
    org_unit_id: str,
    keys: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    exclude_booking: str = "",
    held: tuple[datetime, datetime] | None = None,
) -> None:
    """ABORTED SLOT_UNAVAILABLE unless every key (organizer, rooms) is free for ``[start, end)``.

    When moving a booking, ``exclude_booking`` is its id and ``held`` its current time: its own
    busy time (from Rendezvous or the provider's copy of its event) does not count against it.
    """
    answers: list[FreeBusy] = await asyncio.gather(
        *(deps.availability.free_busy(org_unit_id, key, start, end) for key in keys)
    )
    busy: list[str] = []
    unknown: list[str] = []
    conflicting = ""
    for answer in answers:
        if not answer.known:
            unknown.append(answer.email)
            continue
        for period in answer.busy:
            if exclude_booking and period.booking_id == exclude_booking:
                continue
            if not overlaps(period.start, period.end, start, end):
                continue
            if held and not period.booking_id and _inside(period.start, period.end, *held, start, end):
                continue
            busy.append(answer.email)
            conflicting = conflicting or period.booking_id
            break
    if busy or unknown:
        metadata = {"busy_emails": " ".join(busy + unknown)}
        if conflicting:
            metadata["booking_id"] = conflicting
        if unknown:
            metadata["unknown_emails"] = " ".join(unknown)
        what = f"{', '.join(busy)} busy" if busy else ""
        why = f"{', '.join(unknown)} could not be read" if unknown else ""
        raise Aborted(
            "the time is no longer free: " + "; ".join(x for x in (what, why) if x),
            reason="SLOT_UNAVAILABLE",
            metadata=metadata,
        )


async def slot_unavailable(deps: Deps, exc: SlotUnavailable, booking: Booking) -> Aborted:
    """The database refused an overlapping booking (the race the availability check cannot see);
    names the booking holding the time when the database did not say."""
    if not exc.booking_id:
        async with deps.uow() as uow:
            found = await uow.bookings.conflicts(
                booking.org_unit_id, exc.calendar_keys or booking.calendar_keys, booking.start, booking.end,
                exclude=booking.id)
        if found:
            exc = SlotUnavailable(sorted({c.calendar_key for c in found}), found[0].booking_id)
    metadata = {"busy_emails": " ".join(exc.calendar_keys)}
    if exc.booking_id:
        metadata["booking_id"] = exc.booking_id
    who = ", ".join(exc.calendar_keys) or "the organizer or a room"
    return Aborted(
        f"the time is no longer free: {who} already has a confirmed booking then",
        reason="SLOT_UNAVAILABLE", metadata=metadata,
    )


def _inside(b_start: datetime, b_end: datetime, h_start: datetime, h_end: datetime,
            start: datetime, end: datetime) -> bool:
    """The part of busy ``[b_start, b_end)`` within the new time lies inside the held time."""
    lo, hi = max(b_start, start), min(b_end, end)
    return h_start <= lo and hi <= h_end


async def _gather_in_order(*calls: Awaitable[Any]) -> list[Any]:
    """Run concurrently; raise the first failure in argument order (so NOT_FOUND unit wins)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)
