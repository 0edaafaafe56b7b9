"""RFC 5545 recurrence expansion for the subset Google Calendar events use in the sandbox.

Supported: ``RRULE`` with ``FREQ=DAILY|WEEKLY``, ``INTERVAL``, ``COUNT``, ``UNTIL`` and ``BYDAY``
(weekly weeks start on Monday), plus ``EXDATE`` (``TZID=``, UTC ``Z`` or ``VALUE=DATE`` forms).
Other frequencies yield only the first instance. Occurrences keep their local wall-clock time in the
event's zone, so a 09:00 weekly meeting stays at 09:00 across DST changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sandbox.providers.google_common import zone

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
SUPPORTED_FREQ = ("DAILY", "WEEKLY")


@dataclass(frozen=True)
class Rule:
    """A parsed RRULE."""

    freq: str
    interval: int = 1
    count: int | None = None
    until: datetime | date | None = None  # aware UTC datetime, naive local datetime, or a date
    byday: tuple[int, ...] | None = None


def parse_rrule(line: str) -> Rule:
    """Parse ``RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10``; ValueError when malformed."""
    body = line.split(":", 1)[1] if line.upper().startswith("RRULE:") else line
    parts = dict(p.split("=", 1) for p in body.strip().split(";") if "=" in p)
    parts = {k.upper(): v for k, v in parts.items()}
    if "FREQ" not in parts:
        raise ValueError(f"RRULE without FREQ: {line!r}")
    byday = None
    if "BYDAY" in parts:
        days = [d.strip().upper().lstrip("+-0123456789") for d in parts["BYDAY"].split(",")]
        byday = tuple(sorted({WEEKDAYS[d] for d in days}))
    interval = int(parts.get("INTERVAL", "1"))
    if interval < 1:
        raise ValueError("INTERVAL must be positive")
    return Rule(
        freq=parts["FREQ"].upper(),
        interval=interval,
        count=int(parts["COUNT"]) if "COUNT" in parts else None,
        until=_parse_ical_time(parts["UNTIL"]) if "UNTIL" in parts else None,
        byday=byday,
    )


def _parse_ical_time(value: str) -> datetime | date:
    value = value.strip()
    if "T" not in value:
        return datetime.strptime(value, "%Y%m%d").date()
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(value, "%Y%m%dT%H%M%S")


def parse_exdates(lines: Iterable[str], default_tz: tzinfo) -> tuple[set[float], set[date]]:
    """Excluded instants (epoch seconds, for timed events) and dates (for all-day events)."""
    instants: set[float] = set()
    dates: set[date] = set()
    for line in lines:
        if not line.upper().startswith("EXDATE"):
            continue
        head, _, values = line.partition(":")
        params = dict(p.split("=", 1) for p in head.split(";")[1:] if "=" in p)
        tz = zone(params["TZID"]) if "TZID" in params else default_tz
        for raw in values.split(","):
            parsed = _parse_ical_time(raw)
            if isinstance(parsed, datetime):
                aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
                instants.add(aware.timestamp())
                dates.add(aware.astimezone(tz).date())
            else:
                dates.add(parsed)
    return instants, dates


def _candidate_dates(first: date, rule: Rule) -> Iterator[date]:
    if rule.freq == "DAILY":
        for k in itertools.count():
            day = first + timedelta(days=k * rule.interval)
            if rule.byday is None or day.weekday() in rule.byday:
                yield day
    elif rule.freq == "WEEKLY":
        weekdays = rule.byday or (first.weekday(),)
        week0 = first - timedelta(days=first.weekday())
        for k in itertools.count(step=rule.interval):
            for weekday in weekdays:
                day = week0 + timedelta(days=7 * k + weekday)
                if day >= first:
                    yield day
    else:
        yield first


def _past_until(day: date, start: datetime | None, rule: Rule, tz: tzinfo) -> bool:
    until = rule.until
    if until is None:
        return False
    if isinstance(until, datetime):
        if start is None:  # all-day instance against a date-time UNTIL
            bound = until.astimezone(tz).date() if until.tzinfo else until.date()
            return day > bound
        bound_dt = until if until.tzinfo else until.replace(tzinfo=tz)
        return start > bound_dt
    return day > until


def expand(first: date | datetime, rule: Rule, tz: tzinfo, horizon: datetime) -> Iterator[date | datetime]:
    """Occurrence starts of a series, in order, until COUNT, UNTIL or ``horizon`` (exclusive).

    ``first`` is the DTSTART: a date (all-day series; dates are yielded) or an aware datetime (timed
    series; aware datetimes in ``tz`` are yielded, keeping the local time of day).
    """
    timed = isinstance(first, datetime)
    if isinstance(first, datetime):
        local = first.astimezone(tz)
        first_day, time_of_day = local.date(), local.time().replace(tzinfo=None)
    else:
        first_day, time_of_day = first, time()
    horizon_day = horizon.astimezone(tz).date()
    produced = 0
    for day in _candidate_dates(first_day, rule):
        start = datetime.combine(day, time_of_day, tzinfo=tz) if timed else None
        if _past_until(day, start, rule, tz):
            return
        if (start is not None and start >= horizon) or (start is None and day >= horizon_day):
            return
        yield start if start is not None else day
        produced += 1
        if rule.count is not None and produced >= rule.count:
            return
        if rule.freq not in SUPPORTED_FREQ:
            return
