"""Meetings at a linked conferencing service (FREE_BUSY / NO_ACCESS, or a non-native service in
READ_WRITE): Meet ``spaces.create``, Teams ``onlineMeetings`` (as the organizer's Entra object id),
Zoom ``POST /users/{id}/meetings`` and Webex ``POST /meetings``, through ``libs/providers``."""

from __future__ import annotations

import math

from kit import errors
from providers import Providers
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
            minutes = max(1, math.ceil((booking.end - booking.start).total_seconds() / 60))
            async with provider_errors("zoom"):
                zoom = await self._p.zoom.create_meeting(
                    token, host, booking.summary[:ZOOM_TOPIC], booking.start, minutes, booking.time_zone or "UTC",
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

    async def delete(self, booking: Booking, token: str) -> None:
        conf = booking.conferencing
        if conf.service is ConferencingService.ZOOM and conf.meeting_id.isdigit():
            async with provider_errors("zoom"):
                await self._p.zoom.delete_meeting(token, int(conf.meeting_id))
        elif conf.service is ConferencingService.WEBEX:
            async with provider_errors("webex"):
                await self._p.webex.delete_meeting(token, conf.meeting_id, host_email=booking.organizer.email,
                                                   send_email=False)
        # Meet spaces and Teams online meetings are not on any calendar; an unused one harms nobody.
