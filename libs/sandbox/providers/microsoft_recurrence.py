"""Expansion of Graph ``patternedRecurrence`` objects into concrete occurrences.

Supports the pattern types ``daily``, ``weekly``, ``absoluteMonthly``, ``relativeMonthly``,
``absoluteYearly`` and ``relativeYearly`` and the range types ``endDate``, ``numbered`` and
``noEnd`` (open ranges stop at a horizon). Occurrences keep the wall-clock start time of the
series in the recurrence time zone, so they follow daylight-saving changes like Exchange does.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INDEX = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
MAX_OCCURRENCES = 5000
#: An open-ended series is expanded this far past its start.
OPEN_HORIZON = timedelta(days=3 * 366)


def _weekday(name: str) -> int:
    return DAYS.index(name.lower())


def _parse_date(value: object) -> date | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return date.fromisoformat(value[:10])


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _nth_weekday(year: int, month: int, weekday: int, index: int) -> date | None:
    days_in_month = calendar.monthrange(year, month)[1]
    matches = [d for d in range(1, days_in_month + 1) if date(year, month, d).weekday() == weekday]
    if index == -1:
        return date(year, month, matches[-1])
    return date(year, month, matches[index]) if index < len(matches) else None


def _dates(pattern: dict, start: date) -> Iterator[date]:
    """Candidate dates in order (may precede ``start``; the caller filters)."""
    kind = str(pattern.get("type", "daily"))
    interval = max(1, int(pattern.get("interval", 1) or 1))
    days = [_weekday(d) for d in pattern.get("daysOfWeek") or []]
    if kind == "daily":
        d = start
        while True:
            yield d
            d += timedelta(days=interval)
    elif kind == "weekly":
        first = _weekday(str(pattern.get("firstDayOfWeek") or "sunday"))
        offsets = sorted((w - first) % 7 for w in (days or [start.weekday()]))
        week = start - timedelta(days=(start.weekday() - first) % 7)
        while True:
            for off in offsets:
                yield week + timedelta(days=off)
            week += timedelta(weeks=interval)
    elif kind in ("absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"):
        yearly = kind.endswith("Yearly")
        step = interval * 12 if yearly else interval
        year, month = start.year, (int(pattern.get("month") or start.month) if yearly else start.month)
        while True:
            yield from _month_dates(pattern, kind, year, month, days or [start.weekday()])
            year, month = _add_months(year, month, step)
    else:
        raise ValueError(f"unsupported recurrence pattern type {kind!r}")


def _month_dates(pattern: dict, kind: str, year: int, month: int, days: list[int]) -> list[date]:
    if kind.startswith("absolute"):
        day = int(pattern.get("dayOfMonth") or 1)
        return [date(year, month, day)] if day <= calendar.monthrange(year, month)[1] else []
    index = INDEX.get(str(pattern.get("index") or "first"), 0)
    found = [_nth_weekday(year, month, w, index) for w in days]
    return sorted(d for d in found if d is not None)


def expand(
    start: datetime, duration: timedelta, recurrence: dict, zone: tzinfo, cancelled: frozenset[date] = frozenset()
) -> list[tuple[datetime, datetime]]:
    """Occurrences ``(start, end)`` as aware datetimes for a series whose first instance starts at ``start``."""
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    local = start.astimezone(zone)
    first = _parse_date(rng.get("startDate")) or local.date()
    kind = str(rng.get("type") or "noEnd")
    last = _parse_date(rng.get("endDate")) if kind == "endDate" else None
    if last is None:
        last = first + OPEN_HORIZON
    count = int(rng.get("numberOfOccurrences") or 0) if kind == "numbered" else 0
    wall = local.time().replace(tzinfo=None)
    out: list[tuple[datetime, datetime]] = []
    produced = 0
    for d in _dates(pattern, first):
        if d > last or len(out) >= MAX_OCCURRENCES:
            break
        if d < first:
            continue
        produced += 1
        if d not in cancelled:
            begin = datetime.combine(d, wall, tzinfo=zone)
            out.append((begin, begin + duration))
        if count and produced >= count:
            break
    return out
