"""Native events in the organizer's calendar (READ_WRITE) through ``libs/providers``.

Google ``events.insert`` with ``sendUpdates=all`` (Google invites the attendees from the organizer's
mailbox), a client-chosen event id derived from the booking (a retried insert cannot make a second
event) and, for Meet, ``conferenceDataVersion=1`` with ``createRequest.requestId`` = that same stable
id. Graph ``POST /users/{id}/events`` with ``transactionId`` = the booking id and, for Teams,
``isOnlineMeeting`` + ``teamsForBusiness``. Rooms are resource attendees. The join link is read back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from kit import errors
from providers import Providers
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.times import format_rfc3339, graph_date_time
from services.booking.domain.model import (
    Booking,
    ConferencingService,
    Provider,
    google_event_id,
)
from services.booking.ports import ProviderEvent, TokenRejected


@asynccontextmanager
async def provider_errors(provider: str) -> AsyncIterator[None]:
    """Provider exceptions as kit errors: retryable ones ``Unavailable``, refusals ``FailedPrecondition``."""
    try:
        yield
    except ProviderAuthError as exc:
        # The token itself was refused: the caller asks identity for another (naming this one) and retries.
        raise TokenRejected(
            f"{provider} refused the access token: {exc}", reason="PROVIDER_UNAVAILABLE",
            metadata={"provider": provider.upper(), "http_status": str(exc.status or 401)},
        ) from exc
    except ProviderUnavailable as exc:
        raise errors.Unavailable(
            f"{provider} failed: {exc}", reason="PROVIDER_UNAVAILABLE",
            metadata={"provider": provider.upper(), **({"http_status": str(exc.status)} if exc.status else {})},
        ) from exc
    except ProviderRateLimited as exc:
        raise errors.Unavailable(
            f"{provider} is throttling: {exc}", reason="PROVIDER_RATE_LIMITED",
            metadata={"provider": provider.upper(), "retry_after_seconds": str(int(exc.retry_after or 0))},
        ) from exc
    except ProviderError as exc:
        raise errors.FailedPrecondition(
            f"{provider} refused: {exc}", reason="PROVIDER_REJECTED",
            metadata={"provider": provider.upper(), "http_status": str(exc.status or ""),
                      "provider_error": exc.provider_code or ""},
        ) from exc


def linked_link_text(booking: Booking) -> str:
    """A linked (non-native) meeting written into the event text, since it is not native there."""
    conf = booking.conferencing
    if conf.native or not conf.join_url:  # set only while the meeting exists (also while it is moved)
        return ""
    details = f" ({conf.details})" if conf.details else ""
    return f"Join {conf.service.label}: {conf.join_url}{details}"


def _text(booking: Booking) -> str:
    link = linked_link_text(booking)
    return "\n\n".join(x for x in (booking.description, link) if x)


def _location(booking: Booking) -> str:
    if booking.location:
        return booking.location
    names = ", ".join(r.display_name or r.email for r in booking.rooms)
    return names or (booking.conferencing.join_url if linked_link_text(booking) else "")


def google_body(booking: Booking, responses: Mapping[str, str] | None = None) -> dict[str, Any]:
    responses = responses or {}
    attendees: list[dict[str, Any]] = []
    for a in booking.attendees:
        entry: dict[str, Any] = {"email": a.email, "optional": a.optional}
        if a.display_name:
            entry["displayName"] = a.display_name
        if a.email in responses:
            entry["responseStatus"] = responses[a.email]
        attendees.append(entry)
    for r in booking.rooms:
        entry = {"email": r.email, "resource": True}
        if r.display_name:
            entry["displayName"] = r.display_name
        if r.email in responses:
            entry["responseStatus"] = responses[r.email]
        attendees.append(entry)
    return {
        "summary": booking.summary,
        "description": _text(booking),
        "location": _location(booking),
        "start": {"dateTime": format_rfc3339(booking.start), "timeZone": booking.time_zone or "UTC"},
        "end": {"dateTime": format_rfc3339(booking.end), "timeZone": booking.time_zone or "UTC"},
        "attendees": attendees,
        "extendedProperties": {"private": {"rendezvousBookingId": booking.id}},
    }


def graph_body(booking: Booking) -> dict[str, Any]:
    attendees: list[dict[str, Any]] = [
        {"emailAddress": {"address": a.email, **({"name": a.display_name} if a.display_name else {})},
         "type": "optional" if a.optional else "required"}
        for a in booking.attendees
    ]
    attendees += [
        {"emailAddress": {"address": r.email, **({"name": r.display_name} if r.display_name else {})},
         "type": "resource"}
        for r in booking.rooms
    ]
    body: dict[str, Any] = {
        "subject": booking.summary,
        "body": {"contentType": "text", "content": _text(booking)},
        "start": graph_date_time(booking.start),
        "end": graph_date_time(booking.end),
        "location": {"displayName": _location(booking)},
        "attendees": attendees,
        "allowNewTimeProposals": True,
    }
    if booking.rooms:
        body["locations"] = [
            {"displayName": r.display_name or r.email, "locationEmailAddress": r.email, "locationType": "conferenceRoom"}
            for r in booking.rooms
        ]
    conf = booking.conferencing
    if conf.native and conf.service is ConferencingService.MICROSOFT_TEAMS:
        body.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
    return body


def _wants_meet(booking: Booking) -> bool:
    conf = booking.conferencing
    return conf.native and conf.service is ConferencingService.GOOGLE_MEET


class ProviderCalendarEvents:
    """``CalendarEvents`` over the Google and Microsoft clients of ``libs/providers``."""

    def __init__(self, providers: Providers) -> None:
        self._p = providers

    async def create(self, booking: Booking, token: str) -> ProviderEvent:
        if booking.route.provider is Provider.GOOGLE:
            async with provider_errors("google"):
                event = await self._p.google.calendar.insert_event(
                    token, booking.organizer.email, google_body(booking), conference=_wants_meet(booking),
                    send_updates="all", event_id=google_event_id(booking.id),
                )
            return _google(event)
        self._microsoft_only(booking)
        async with provider_errors("microsoft"):
            created = await self._p.microsoft.calendar.create_event(
                token, self._mailbox(booking), graph_body(booking), transaction_id=booking.id)
        return ProviderEvent(created.id, created.ical_uid or "", created.join_url or "")

    async def update(self, booking: Booking, token: str) -> ProviderEvent:
        event_id = booking.delivery.provider_event_id
        if booking.route.provider is Provider.GOOGLE:
            async with provider_errors("google"):
                current = await self._p.google.calendar.get_event(token, booking.organizer.email, event_id)
                responses = {
                    str(a.get("email", "")).lower(): str(a.get("responseStatus"))
                    for a in current.raw.get("attendees", []) if isinstance(a, dict) and a.get("responseStatus")
                }
                patch = google_body(booking, responses)
                if _wants_meet(booking) and not current.meet_url:
                    patch["conferenceData"] = {"createRequest": {
                        "requestId": google_event_id(booking.id), "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
                event = await self._p.google.calendar.patch_event(
                    token, booking.organizer.email, event_id, patch, send_updates="all")
            return _google(event)
        self._microsoft_only(booking)
        async with provider_errors("microsoft"):
            patched = await self._p.microsoft.calendar.patch_event(token, self._mailbox(booking), event_id, graph_body(booking))
        return ProviderEvent(patched.id, patched.ical_uid or "", patched.join_url or "")

    async def delete(self, booking: Booking, token: str) -> None:
        event_id = booking.delivery.provider_event_id
        if booking.route.provider is Provider.GOOGLE:
            async with provider_errors("google"):
                try:
                    await self._p.google.calendar.delete_event(
                        token, booking.organizer.email, event_id or google_event_id(booking.id), send_updates="all")
                except ProviderNotFound:
                    pass  # never created (or already gone): nothing to delete
            return
        self._microsoft_only(booking)
        if event_id:
            async with provider_errors("microsoft"):
                await self._p.microsoft.calendar.delete_event(token, self._mailbox(booking), event_id)

    async def get(self, booking: Booking, token: str) -> ProviderEvent:
        event_id = booking.delivery.provider_event_id
        if booking.route.provider is Provider.GOOGLE:
            async with provider_errors("google"):
                event = await self._p.google.calendar.get_event(token, booking.organizer.email, event_id)
            return _google(event)
        raise errors.FailedPrecondition("only Google Meet links are created asynchronously")

    @staticmethod
    def _mailbox(booking: Booking) -> str:
        return booking.route.mailbox_user_id or booking.organizer.email

    @staticmethod
    def _microsoft_only(booking: Booking) -> None:
        if booking.route.provider is not Provider.MICROSOFT:
            raise errors.FailedPrecondition(
                f"no native events for calendar provider {booking.route.provider.value}", reason="PROVIDER_REJECTED")


def _google(event: Any) -> ProviderEvent:
    conference = event.raw.get("conferenceData") if isinstance(event.raw, Mapping) else None
    conference_id = str(conference.get("conferenceId", "")) if isinstance(conference, Mapping) else ""
    return ProviderEvent(
        event_id=event.id, ical_uid=event.ical_uid or "", join_url=event.meet_url or "", conference_id=conference_id,
        conference_pending=event.conference_status == "pending",
    )
