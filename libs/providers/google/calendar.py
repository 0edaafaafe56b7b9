"""Google Calendar API v3: free/busy, events and the calendar list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers._base import ProviderClient, segment
from providers._parse import each, obj_at, objects, opt_bool, opt_str, req_str, time_at
from providers.endpoints import ProviderEndpoints
from providers.error_bodies import google_error
from providers.errors import ProviderBadRequest, ProviderNotFound, ProviderRateLimited, ProviderUnavailable
from providers.http import ProviderHttp
from providers.times import Interval, ensure_utc, format_rfc3339

FREE_BUSY_CHUNK = 50
CALENDAR_LIST_PAGE = 250
TRANSPORT_DOMAIN = "rendezvous"


@dataclass(frozen=True)
class CalendarError:
    """Why one calendar's free/busy is unknown: Google's per-calendar reason (``notFound``...), or
    ``providerUnavailable`` / ``providerRateLimited`` (domain ``rendezvous``) when its chunk failed."""

    reason: str
    domain: str | None = None


@dataclass(frozen=True)
class CalendarFreeBusy:
    """One calendar's busy intervals, or the errors that make them unknown (never read as free)."""

    calendar_id: str
    busy: tuple[Interval, ...] = ()
    errors: tuple[CalendarError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class GoogleEvent:
    """An event as Google returned it; ``meet_url`` once its Meet link exists."""

    id: str
    status: str | None
    html_link: str | None
    ical_uid: str | None
    etag: str | None
    meet_url: str | None
    conference_status: str | None
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class CalendarListEntry:
    """A calendar the user has on their list."""

    id: str
    summary: str | None
    time_zone: str | None
    access_role: str | None
    primary: bool


def new_event_id() -> str:
    """A fresh client-side event id (base32hex alphabet, 32 characters) usable as an idempotency key."""
    return uuid.uuid4().hex


class GoogleCalendar(ProviderClient):
    """Calendar API calls made with a user's (or delegated service account's) access token."""

    provider = "google"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, *, max_concurrency: int = 8) -> None:
        super().__init__(http, google_error)
        self._base = endpoints.google_calendar
        self._max_concurrency = max_concurrency

    async def free_busy(
        self, token: str, ids: Sequence[str], time_min: datetime, time_max: datetime
    ) -> dict[str, CalendarFreeBusy]:
        """Busy intervals per calendar id in ``[time_min, time_max)``, or that calendar's errors.

        Asks for at most 50 calendars per call and sends the calls concurrently. A chunk that fails
        for a transient reason marks its calendars with an error; 401/403/400 raise.
        """
        start, end = ensure_utc(time_min, "time_min"), ensure_utc(time_max, "time_max")
        if end <= start:
            raise ValueError("time_max must be after time_min")
        unique = list(dict.fromkeys(ids))
        chunks = [unique[i : i + FREE_BUSY_CHUNK] for i in range(0, len(unique), FREE_BUSY_CHUNK)]
        limit = asyncio.Semaphore(self._max_concurrency)
        answers = await asyncio.gather(
            *(self._free_busy_chunk(limit, token, chunk, start, end) for chunk in chunks),
            return_exceptions=True,
        )
        result: dict[str, CalendarFreeBusy] = {}
        for chunk, answer in zip(chunks, answers, strict=True):
            if isinstance(answer, ProviderUnavailable | ProviderRateLimited):
                reason = (
                    "providerRateLimited"
                    if isinstance(answer, ProviderRateLimited)
                    else "providerUnavailable"
                )
                failed = (CalendarError(reason, TRANSPORT_DOMAIN),)
                result.update({cid: CalendarFreeBusy(cid, errors=failed) for cid in chunk})
            elif isinstance(answer, BaseException):
                raise answer
            else:
                result.update(answer)
        return result

    async def _free_busy_chunk(
        self, limit: asyncio.Semaphore, token: str, ids: list[str], start: datetime, end: datetime
    ) -> dict[str, CalendarFreeBusy]:
        body = {
            "timeMin": format_rfc3339(start),
            "timeMax": format_rfc3339(end),
            "timeZone": "UTC",
            "items": [{"id": cid} for cid in ids],
        }
        async with limit:
            answer = await self._json(
                "POST", f"{self._base}/freeBusy", token=token, json_body=body, idempotent=True
            )
        calendars = obj_at(answer, "calendars")
        by_lower = {key.lower(): value for key, value in calendars.items()}
        return {cid: self._one_calendar(cid, calendars.get(cid, by_lower.get(cid.lower()))) for cid in ids}

    def _one_calendar(self, calendar_id: str, entry: Any) -> CalendarFreeBusy:
        if not isinstance(entry, dict):
            return CalendarFreeBusy(calendar_id, errors=(CalendarError("notReturned", TRANSPORT_DOMAIN),))
        errors = tuple(
            CalendarError(str(e.get("reason") or "unknown"), opt_str(e, "domain"))
            for e in objects(self.provider, entry, "errors")
        )
        busy = each(
            self.provider,
            objects(self.provider, entry, "busy"),
            lambda b: Interval(time_at(self.provider, b.get("start")), time_at(self.provider, b.get("end"))),
        )
        return CalendarFreeBusy(calendar_id, busy=tuple(sorted(busy)), errors=errors)

    async def insert_event(
        self,
        token: str,
        calendar_id: str,
        body: Mapping[str, Any],
        *,
        conference: bool = False,
        send_updates: str = "all",
        event_id: str | None = None,
    ) -> GoogleEvent:
        """Create an event (``events.insert``); ``conference`` asks for a Meet link.

        ``event_id`` (see ``new_event_id``) makes the call safe to retry: Google refuses a second
        event with the same id (409), and the event the first attempt created is returned instead.
        """
        event = dict(body)
        if event_id is not None:
            event["id"] = event_id
        if conference and "conferenceData" not in event:
            event["conferenceData"] = {
                "createRequest": {
                    "requestId": event_id or uuid.uuid4().hex,
                    "conferenceSolutionKey": {"type": "hangoutsMeet"},
                }
            }
        try:
            answer = await self._json(
                "POST",
                f"{self._base}/calendars/{segment(calendar_id)}/events",
                token=token,
                params=self._write_params(event, send_updates),
                json_body=event,
                idempotency_key=event_id,
            )
        except ProviderBadRequest as exc:
            if event_id is None or exc.status != 409:
                raise
            return await self.get_event(token, calendar_id, event_id)
        return self._event(answer)

    async def get_event(self, token: str, calendar_id: str, event_id: str) -> GoogleEvent:
        """One event (also how to see a pending Meet link become ready)."""
        answer = await self._json("GET", self._event_url(calendar_id, event_id), token=token, idempotent=True)
        return self._event(answer)

    async def patch_event(
        self,
        token: str,
        calendar_id: str,
        event_id: str,
        patch: Mapping[str, Any],
        *,
        send_updates: str = "all",
    ) -> GoogleEvent:
        """Merge ``patch`` into an event (``conferenceDataVersion=1`` when it touches conference data)."""
        answer = await self._json(
            "PATCH",
            self._event_url(calendar_id, event_id),
            token=token,
            params=self._write_params(patch, send_updates),
            json_body=dict(patch),
            idempotent=True,
        )
        return self._event(answer)

    async def delete_event(
        self, token: str, calendar_id: str, event_id: str, *, send_updates: str = "all"
    ) -> bool:
        """Delete an event; False when Google says it was already deleted (410)."""
        try:
            await self._send(
                "DELETE",
                self._event_url(calendar_id, event_id),
                token=token,
                params={"sendUpdates": send_updates},
                idempotent=True,
            )
        except ProviderNotFound as exc:
            if exc.gone:
                return False
            raise
        return True

    async def list_calendars(
        self, token: str, *, min_access_role: str | None = None
    ) -> list[CalendarListEntry]:
        """Every calendar on the user's calendar list, all pages."""
        entries: list[CalendarListEntry] = []
        page_token: str | None = None
        while True:
            params: dict[str, str | int] = {"maxResults": CALENDAR_LIST_PAGE}
            if min_access_role:
                params["minAccessRole"] = min_access_role
            if page_token:
                params["pageToken"] = page_token
            answer = await self._json(
                "GET", f"{self._base}/users/me/calendarList", token=token, params=params, idempotent=True
            )
            entries += [
                CalendarListEntry(
                    id=req_str(self.provider, item, "id"),
                    summary=opt_str(item, "summary"),
                    time_zone=opt_str(item, "timeZone"),
                    access_role=opt_str(item, "accessRole"),
                    primary=bool(opt_bool(item, "primary", False)),
                )
                for item in objects(self.provider, answer, "items")
            ]
            page_token = opt_str(answer, "nextPageToken")
            if page_token is None:
                return entries

    def _event_url(self, calendar_id: str, event_id: str) -> str:
        return f"{self._base}/calendars/{segment(calendar_id)}/events/{segment(event_id)}"

    @staticmethod
    def _write_params(event: Mapping[str, Any], send_updates: str) -> dict[str, str | int]:
        if "conferenceData" in event:
            return {"conferenceDataVersion": 1, "sendUpdates": send_updates}
        return {"sendUpdates": send_updates}

    def _event(self, answer: dict[str, Any]) -> GoogleEvent:
        conference = obj_at(answer, "conferenceData")
        video = next(
            (
                e
                for e in objects(self.provider, conference, "entryPoints")
                if e.get("entryPointType") == "video"
            ),
            {},
        )
        status = obj_at(obj_at(conference, "createRequest"), "status")
        return GoogleEvent(
            id=req_str(self.provider, answer, "id"),
            status=opt_str(answer, "status"),
            html_link=opt_str(answer, "htmlLink"),
            ical_uid=opt_str(answer, "iCalUID"),
            etag=opt_str(answer, "etag"),
            meet_url=opt_str(video, "uri") or opt_str(answer, "hangoutLink"),
            conference_status=opt_str(status, "statusCode"),
            raw=answer,
        )
