"""Busy intervals of a calendar, as Google's freeBusy computes them, cached and searched by bisection.

Busy: opaque, non-cancelled events the calendar's user has not declined — including tentative ones,
``outOfOffice`` and ``focusTime`` — with recurring series expanded and all-day events spanning whole
days in the calendar's time zone. Not busy: transparent, cancelled, declined and ``workingLocation``
events. Overlapping or touching intervals are merged.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sandbox.providers.google_common import parse_rfc3339, zone
from sandbox.providers.google_events import invited_events
from sandbox.providers.google_recurrence import expand, parse_exdates, parse_rrule
from sandbox.providers.google_state import Calendar, State

HORIZON_AHEAD = 400 * 86400.0  # expand series at least this far past "now"
NOT_BUSY_TYPES = frozenset({"workingLocation"})


@dataclass
class BusyIndex:
    """Merged, sorted busy intervals of one calendar, valid for one events version up to ``horizon``."""

    version: int
    horizon: float
    starts: list[float]
    ends: list[float]

    def between(self, lo: float, hi: float) -> list[tuple[float, float]]:
        """Busy intervals overlapping ``[lo, hi)``, clipped to it."""
        out = []
        i = bisect.bisect_right(self.ends, lo)
        while i < len(self.starts) and self.starts[i] < hi:
            out.append((max(self.starts[i], lo), min(self.ends[i], hi)))
            i += 1
        return out


def busy_between(
    state: State, calendar: Calendar, lo: float, hi: float, now: float
) -> list[tuple[float, float]]:
    """The calendar's busy intervals within ``[lo, hi)`` (epoch seconds)."""
    index = calendar.busy_cache
    if not isinstance(index, BusyIndex) or index.version != state.events_version or hi > index.horizon:
        horizon = max(hi, now + HORIZON_AHEAD) + 30 * 86400.0
        index = build_index(state, calendar, horizon)
        calendar.busy_cache = index
    return index.between(lo, hi)


def build_index(state: State, calendar: Calendar, horizon: float) -> BusyIndex:
    """Expand and merge every busy event of ``calendar`` up to ``horizon``."""
    cal_tz = zone(calendar.time_zone)
    events = [e for e in calendar.events.values()] + invited_events(state, calendar.id)
    overridden: dict[str, set[float | date]] = {}
    for event in events:
        original = event.get("originalStartTime")
        if event.get("recurringEventId") and original:
            overridden.setdefault(event["recurringEventId"], set()).add(_original_key(original, cal_tz))
    intervals: list[tuple[float, float]] = []
    horizon_dt = datetime.fromtimestamp(horizon, cal_tz)
    for event in events:
        if blocks(event, calendar):
            try:
                intervals.extend(
                    event_intervals(event, cal_tz, horizon_dt, overridden.get(event["id"], set()))
                )
            except (KeyError, ValueError, TypeError):
                continue  # a malformed seeded event never makes the whole calendar fail
    return _merged(state.events_version, horizon, intervals)


def blocks(event: dict[str, Any], calendar: Calendar) -> bool:
    """Whether ``event`` makes ``calendar``'s user busy."""
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return False
    if event.get("eventType") in NOT_BUSY_TYPES:
        return False
    me = calendar.id.lower()
    for attendee in event.get("attendees", []):
        if str(attendee.get("email", "")).lower() == me:
            return attendee.get("responseStatus") != "declined"
    return True


def _original_key(original: dict[str, Any], cal_tz: tzinfo) -> float | date:
    if "date" in original:
        return date.fromisoformat(original["date"])
    return _instant(original, cal_tz).timestamp()


def _instant(obj: dict[str, Any], default_tz: tzinfo) -> datetime:
    raw = obj["dateTime"]
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(obj.get("timeZone")) if obj.get("timeZone") else default_tz)
    return parsed


def event_intervals(
    event: dict[str, Any], cal_tz: tzinfo, horizon: datetime, skip: set[float | date]
) -> list[tuple[float, float]]:
    """``(start, end)`` epoch intervals of an event (every instance of a series, up to ``horizon``)."""
    start_obj, end_obj = event["start"], event["end"]
    rules = [line for line in event.get("recurrence", []) if line.upper().startswith("RRULE")]
    if "date" in start_obj:
        first_day = date.fromisoformat(start_obj["date"])
        days = (date.fromisoformat(end_obj["date"]) - first_day).days
        starts: list[date] = [first_day]
        if rules:
            _, ex_dates = parse_exdates(event.get("recurrence", []), cal_tz)
            starts = [
                d
                for d in expand(first_day, parse_rrule(rules[0]), cal_tz, horizon)
                if isinstance(d, date) and d not in ex_dates and d not in skip
            ]
        return [(_midnight(d, cal_tz), _midnight(d + timedelta(days=days), cal_tz)) for d in starts]
    series_tz = zone(start_obj["timeZone"]) if start_obj.get("timeZone") else cal_tz
    first = _instant(start_obj, series_tz)
    length = _instant(end_obj, series_tz).timestamp() - first.timestamp()
    if not rules:
        return [(first.timestamp(), first.timestamp() + length)]
    ex_instants, _ = parse_exdates(event.get("recurrence", []), series_tz)
    out = []
    for occurrence in expand(first, parse_rrule(rules[0]), series_tz, horizon):
        assert isinstance(occurrence, datetime)
        ts = occurrence.timestamp()
        if ts not in ex_instants and ts not in skip:
            out.append((ts, ts + length))
    return out


def _midnight(day: date, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _merged(version: int, horizon: float, intervals: list[tuple[float, float]]) -> BusyIndex:
    starts: list[float] = []
    ends: list[float] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return BusyIndex(version, horizon, starts, ends)


def parse_window(time_min: Any, time_max: Any) -> tuple[float, float]:
    """``(timeMin, timeMax)`` as epoch seconds; ValueError names the bad field."""
    try:
        lo = parse_rfc3339(time_min).timestamp()
    except ValueError as exc:
        raise ValueError("timeMin") from exc
    try:
        hi = parse_rfc3339(time_max).timestamp()
    except ValueError as exc:
        raise ValueError("timeMax") from exc
    return lo, hi
