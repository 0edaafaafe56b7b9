"""Microsoft Graph calendars: getSchedule, events (with Teams links) and standalone online meetings."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from providers._base import ProviderClient, segment
from providers._parse import obj_at, objects, opt_str, req_str, time_at
from providers.endpoints import ProviderEndpoints
from providers.error_bodies import graph_error
from providers.errors import ProviderNotFound, ProviderRateLimited, ProviderUnavailable
from providers.http import ProviderHttp
from providers.times import ensure_utc, format_rfc3339, graph_date_time, parse_graph_date_time

SCHEDULE_CHUNK = 20
#: getSchedule refuses windows of 62 days or more; longer queries are cut into windows of this size.
MAX_SCHEDULE_WINDOW = timedelta(days=61)
PREFER_UTC = {"Prefer": 'outlook.timezone="UTC"'}


class ScheduleStatus(enum.StrEnum):
    """A schedule item's free/busy status (Graph spells these in either case)."""

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, text: Any) -> ScheduleStatus:
        wanted = str(text or "").lower()
        return next((s for s in cls if s.value.lower() == wanted), cls.UNKNOWN)


@dataclass(frozen=True, order=True)
class ScheduleItem:
    """One item of a schedule, in UTC."""

    start: datetime
    end: datetime
    status: ScheduleStatus


@dataclass(frozen=True)
class ScheduleError:
    """Why a schedule is unknown: Graph's ``responseCode``, or ``providerUnavailable`` /
    ``providerRateLimited`` when the call for it failed."""

    code: str
    message: str | None = None


@dataclass(frozen=True)
class ScheduleResult:
    """One schedule's items, or the error that makes it unknown (never read as free)."""

    schedule_id: str
    items: tuple[ScheduleItem, ...] = ()
    error: ScheduleError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class GraphEvent:
    """An event as Graph returned it; ``join_url`` is the Teams link when there is one."""

    id: str
    ical_uid: str | None
    web_link: str | None
    join_url: str | None
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class OnlineMeeting:
    """A standalone Teams meeting (on no calendar)."""

    id: str
    join_url: str
    raw: Mapping[str, Any] = field(repr=False)


def schedule_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows short enough for getSchedule."""
    windows = []
    while end - start > MAX_SCHEDULE_WINDOW:
        windows.append((start, start + MAX_SCHEDULE_WINDOW))
        start += MAX_SCHEDULE_WINDOW
    windows.append((start, end))
    return windows


class GraphCalendar(ProviderClient):
    """Graph calendar calls with a delegated or app-only token."""

    provider = "microsoft"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, *, max_concurrency: int = 4) -> None:
        super().__init__(http, graph_error)
        self._base = endpoints.microsoft_graph
        self._max_concurrency = max_concurrency

    async def get_schedule(
        self,
        token: str,
        mailbox: str,
        schedules: Sequence[str],
        start: datetime,
        end: datetime,
        interval: int = 30,
    ) -> dict[str, ScheduleResult]:
        """Free/busy items per schedule (user, room or list address) in ``[start, end)``.

        Asks through ``mailbox``'s calendar, at most 20 schedules per call and windows under 62 days,
        calls sent concurrently. A call that fails for a transient reason marks its schedules with an
        error; 401/403/400 raise.
        """
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        if end <= start:
            raise ValueError("end must be after start")
        unique = list(dict.fromkeys(schedules))
        chunks = [unique[i : i + SCHEDULE_CHUNK] for i in range(0, len(unique), SCHEDULE_CHUNK)]
        calls = [(chunk, window) for chunk in chunks for window in schedule_windows(start, end)]
        limit = asyncio.Semaphore(self._max_concurrency)
        answers = await asyncio.gather(
            *(
                self._schedule_call(limit, token, mailbox, chunk, *window, interval)
                for chunk, window in calls
            ),
            return_exceptions=True,
        )
        items: dict[str, set[ScheduleItem]] = {sid: set() for sid in unique}
        errors: dict[str, ScheduleError] = {}
        for (chunk, _), answer in zip(calls, answers, strict=True):
            if isinstance(answer, ProviderUnavailable | ProviderRateLimited):
                code = (
                    "providerRateLimited"
                    if isinstance(answer, ProviderRateLimited)
                    else "providerUnavailable"
                )
                for sid in chunk:
                    errors.setdefault(sid, ScheduleError(code, str(answer)))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                for sid in chunk:
                    result = answer[sid]
                    items[sid].update(result.items)
                    if result.error is not None:
                        errors.setdefault(sid, result.error)
        return {
            sid: ScheduleResult(sid, items=tuple(sorted(items[sid])), error=errors.get(sid)) for sid in unique
        }

    async def _schedule_call(
        self,
        limit: asyncio.Semaphore,
        token: str,
        mailbox: str,
        schedules: list[str],
        start: datetime,
        end: datetime,
        interval: int,
    ) -> dict[str, ScheduleResult]:
        body = {
            "schedules": schedules,
            "startTime": graph_date_time(start),
            "endTime": graph_date_time(end),
            "availabilityViewInterval": interval,
        }
        async with limit:
            answer = await self._json(
                "POST",
                f"{self._base}/users/{segment(mailbox)}/calendar/getSchedule",
                token=token,
                json_body=body,
                headers=PREFER_UTC,
                idempotent=True,
            )
        by_id = {str(v.get("scheduleId", "")).lower(): v for v in objects(self.provider, answer, "value")}
        return {sid: self._schedule(sid, by_id.get(sid.lower())) for sid in schedules}

    def _schedule(self, schedule_id: str, entry: dict[str, Any] | None) -> ScheduleResult:
        if entry is None:
            return ScheduleResult(schedule_id, error=ScheduleError("notReturned"))
        error = entry.get("error")
        if isinstance(error, dict):
            code = opt_str(error, "responseCode") or opt_str(error, "code") or "unknown"
            return ScheduleResult(schedule_id, error=ScheduleError(code, opt_str(error, "message")))
        items = tuple(
            ScheduleItem(
                start=time_at(self.provider, item.get("start"), parse_graph_date_time),
                end=time_at(self.provider, item.get("end"), parse_graph_date_time),
                status=ScheduleStatus.parse(item.get("status")),
            )
            for item in objects(self.provider, entry, "scheduleItems")
        )
        return ScheduleResult(schedule_id, items=items)

    async def create_event(
        self, token: str, user: str, body: Mapping[str, Any], *, transaction_id: str | None = None
    ) -> GraphEvent:
        """Create an event in ``user``'s calendar (Graph sends the invitations).

        ``transaction_id`` makes the call safe to retry: Graph answers a repeated create with the
        event the first one made.
        """
        event = dict(body)
        if transaction_id is not None:
            event["transactionId"] = transaction_id
        answer = await self._json(
            "POST",
            f"{self._base}/users/{segment(user)}/events",
            token=token,
            json_body=event,
            headers=PREFER_UTC,
            idempotency_key=transaction_id,
        )
        return self._event(answer)

    async def patch_event(self, token: str, user: str, event_id: str, patch: Mapping[str, Any]) -> GraphEvent:
        """Update the given properties of an event."""
        answer = await self._json(
            "PATCH",
            f"{self._base}/users/{segment(user)}/events/{segment(event_id)}",
            token=token,
            json_body=dict(patch),
            headers=PREFER_UTC,
            idempotent=True,
        )
        return self._event(answer)

    async def delete_event(self, token: str, user: str, event_id: str) -> bool:
        """Delete an event; False when Graph no longer knows it (deleted already)."""
        try:
            await self._send(
                "DELETE",
                f"{self._base}/users/{segment(user)}/events/{segment(event_id)}",
                token=token,
                idempotent=True,
            )
        except ProviderNotFound:
            return False
        return True

    async def create_online_meeting(
        self, token: str, user_id: str, subject: str, start: datetime, end: datetime
    ) -> OnlineMeeting:
        """A standalone Teams meeting organized by ``user_id`` (its Entra object id for app tokens)."""
        body = {
            "subject": subject,
            "startDateTime": format_rfc3339(start),
            "endDateTime": format_rfc3339(end),
        }
        answer = await self._json(
            "POST", f"{self._base}/users/{segment(user_id)}/onlineMeetings", token=token, json_body=body
        )
        return self._online_meeting(answer)

    async def update_online_meeting(
        self, token: str, user_id: str, meeting_id: str, subject: str, start: datetime, end: datetime
    ) -> OnlineMeeting:
        """Move and rename a standalone Teams meeting (``PATCH /users/{id}/onlineMeetings/{id}``, 200
        with the meeting). Graph needs start and end together; safe to repeat (retried on 5xx).
        ``ProviderNotFound`` when Graph no longer knows the meeting."""
        body = {
            "subject": subject,
            "startDateTime": format_rfc3339(start),
            "endDateTime": format_rfc3339(end),
        }
        answer = await self._json(
            "PATCH",
            f"{self._base}/users/{segment(user_id)}/onlineMeetings/{segment(meeting_id)}",
            token=token,
            json_body=body,
            idempotent=True,
        )
        return self._online_meeting(answer)

    async def delete_online_meeting(self, token: str, user_id: str, meeting_id: str) -> bool:
        """Delete a standalone Teams meeting (204); False when Graph no longer knows it."""
        try:
            await self._send(
                "DELETE",
                f"{self._base}/users/{segment(user_id)}/onlineMeetings/{segment(meeting_id)}",
                token=token,
                idempotent=True,
            )
        except ProviderNotFound:
            return False
        return True

    def _online_meeting(self, answer: dict[str, Any]) -> OnlineMeeting:
        return OnlineMeeting(
            id=req_str(self.provider, answer, "id"),
            join_url=req_str(self.provider, answer, "joinWebUrl"),
            raw=answer,
        )

    def _event(self, answer: dict[str, Any]) -> GraphEvent:
        return GraphEvent(
            id=req_str(self.provider, answer, "id"),
            ical_uid=opt_str(answer, "iCalUId"),
            web_link=opt_str(answer, "webLink"),
            join_url=opt_str(obj_at(answer, "onlineMeeting"), "joinUrl"),
            raw=answer,
        )
