"""Meetings at a linked conferencing service (FREE_BUSY / NO_ACCESS, or a non-native service in
READ_WRITE), through ``libs/providers``:

============  =================================  ===============================  ===========================
service       create                             move (time, title)               delete
============  =================================  ===============================  ===========================
Zoom          ``POST /users/{id}/meetings``      ``PATCH /meetings/{id}`` (204)   ``DELETE /meetings/{id}``
Webex         ``POST /meetings`` (hostEmail)     ``PUT /meetings/{id}`` (200)     ``DELETE /meetings/{id}``
Teams         ``POST /users/{oid}/onlineMeetings``  ``PATCH …/onlineMeetings/{id}``  ``DELETE …/onlineMeetings/{id}``
Google Meet   ``POST /v2/spaces``                nothing: a space has no time     nothing (see ``delete``)
============  =================================  ===============================  ===========================

Teams meetings are addressed through the organizer's Entra object id (app-only tokens need it).
"""

from __future__ import annotations

import math

from kit import errors
from providers import Providers
from providers.errors import ProviderNotFound
from services.booking.adapters.calendar_events import provider_errors
from services.booking.domain.model import Booking, ConferencingService
from services.booking.ports import Meeting

WEBEX_TITLE = 128
ZOOM_TOPIC = 200


class ProviderMeetings:
    """``ConferencingMeetings`` over the provider clients."""

    def __init__(self, providers: Providers) -> None:
        self._p = providers

    async def create(self, booking: Booking, token: str) -> Meeting:
        conf = booking.conferencing
        service = conf.service
        host = conf.host_user_id or booking.organizer.email
        if service is ConferencingService.GOOGLE_MEET:
            async with provider_errors("google"):
                space = await self._p.google.meet.create_space(token)
            return Meeting(service, space.name, space.meeting_uri)
        if service is ConferencingService.MICROSOFT_TEAMS:
            async with provider_errors("microsoft"):
                online = await self._p.microsoft.calendar.create_online_meeting(
                    token, host, booking.summary, booking.start, booking.end)
            return Meeting(service, online.id, online.join_url)
        if service is ConferencingService.ZOOM:
            async with provider_errors("zoom"):
                zoom = await self._p.zoom.create_meeting(
                    token, host, booking.summary[:ZOOM_TOPIC], booking.start, _minutes(booking), booking.time_zone or "UTC",
                    [a.email for a in booking.attendees], agenda=booking.description or None,
                )
            return Meeting(service, str(zoom.id), zoom.join_url, zoom.password or "")
        if service is ConferencingService.WEBEX:
            async with provider_errors("webex"):
                webex = await self._p.webex.create_meeting(
                    token, title=booking.summary[:WEBEX_TITLE], start=booking.start, end=booking.end,
                    timezone=booking.time_zone or "UTC", host_email=booking.organizer.email,
                    agenda=booking.description[:1300] or None, send_email=False,
                )
            return Meeting(service, webex.id, webex.web_link, webex.password or "")
        raise errors.FailedPrecondition(f"no conferencing service {service.value}", reason="CONFERENCING_NOT_CONNECTED")

    async def update(self, booking: Booking, token: str) -> Meeting | None:
        conf = booking.conferencing
        service = conf.service
        if service is ConferencingService.ZOOM and conf.meeting_id.isdigit():
            async with provider_errors("zoom"):
                try:
                    await self._p.zoom.update_meeting(
                        token, int(conf.meeting_id), topic=booking.summary[:ZOOM_TOPIC], start=booking.start,
                        duration_min=_minutes(booking), timezone=booking.time_zone or "UTC",
                        agenda=booking.description,
                    )
                except ProviderNotFound:
                    return None
            return Meeting(service, conf.meeting_id, conf.join_url, conf.passcode)  # Zoom answers 204
        if service is ConferencingService.WEBEX:
            async with provider_errors("webex"):
                try:  # a PUT replaces the meeting: what must stay (agenda, password) is sent again
                    webex = await self._p.webex.update_meeting(
                        token, conf.meeting_id, title=booking.summary[:WEBEX_TITLE], start=booking.start,
                        end=booking.end, timezone=booking.time_zone or "UTC", host_email=booking.organizer.email,
                        agenda=booking.description[:1300] or None, password=conf.passcode or None, send_email=False,
                    )
                except ProviderNotFound:
                    return None
            return Meeting(service, webex.id, webex.web_link, webex.password or conf.passcode)
        if service is ConferencingService.MICROSOFT_TEAMS:
            async with provider_errors("microsoft"):
                try:
                    online = await self._p.microsoft.calendar.update_online_meeting(
                        token, conf.host_user_id or booking.organizer.email, conf.meeting_id, booking.summary,
                        booking.start, booking.end,
                    )
                except ProviderNotFound:
                    return None
            return Meeting(service, online.id, online.join_url, conf.passcode)
        # Google Meet: a space has no time or title, so there is nothing to move.
        return Meeting(service, conf.meeting_id, conf.join_url, conf.passcode)

    async def delete(self, booking: Booking, token: str) -> None:
        """Zoom, Webex and standalone Teams meetings are deleted (one already gone is fine). Google
        Meet spaces cannot be: Meet REST v2 has no ``spaces.delete`` (only create, get, patch and
        ``endActiveConference``, which ends a call in progress), and restricting the space's access
        instead would need another scope for a link nobody is sent again. A space carries no time and
        sits on no calendar, so the cancelled booking leaves nothing that looks scheduled."""
        conf = booking.conferencing
        if conf.service is ConferencingService.ZOOM and conf.meeting_id.isdigit():
            async with provider_errors("zoom"):
                await self._p.zoom.delete_meeting(token, int(conf.meeting_id))
        elif conf.service is ConferencingService.WEBEX:
            async with provider_errors("webex"):
                await self._p.webex.delete_meeting(token, conf.meeting_id, host_email=booking.organizer.email,
                                                   send_email=False)
        elif conf.service is ConferencingService.MICROSOFT_TEAMS:
            async with provider_errors("microsoft"):
                await self._p.microsoft.calendar.delete_online_meeting(
                    token, conf.host_user_id or booking.organizer.email, conf.meeting_id)


def _minutes(booking: Booking) -> int:
    return max(1, math.ceil((booking.end - booking.start).total_seconds() / 60))
