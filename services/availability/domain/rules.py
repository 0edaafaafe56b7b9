"""Availability rules: when one person is available, in their own time zone.

A person's rules are an IANA time zone, weekly periods (local hours per weekday) and date overrides
(a day off, or other hours on one local date). Time outside them is unavailable; a person without
rules is never restricted; rules with no weekly periods leave every day open and only the overrides
restrict.

Local times become instants by the zone's own offsets, per local date, so rules stay right across
daylight-saving changes. Where a change makes a local time ambiguous the documented choice is
PEP 495's ``fold=0``: a time skipped by a spring-forward gap moves forward by the gap (02:30 in a
02:00→03:00 gap is 03:30 new time), and a time that occurs twice means its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from kit.validation import is_time_zone
from services.availability.domain import intervals
from services.availability.domain.checks import Checks
from services.availability.domain.intervals import Spans

MINUTES_PER_DAY = 1440
MAX_WEEKLY_PERIODS = 70
MAX_DATE_OVERRIDES = 400
MAX_OVERRIDE_PERIODS = 10
RULES_INVALID = "AVAILABILITY_RULES_INVALID"
DAY_NAMES = ("", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, order=True)
class WeeklyPeriod:
    """Available every week on ``day`` (ISO: 1 = Monday … 7 = Sunday) from ``start`` to ``end``,
    both in minutes after local midnight (``end`` 1440 = the end of the day)."""

    day: int
    start: int
    end: int


@dataclass(frozen=True, order=True)
class DateOverride:
    """The local date ``day`` has other hours (``periods``, minutes after midnight) or none at all."""

    day: date
    unavailable: bool
    periods: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class AvailabilityRules:
    """Validated rules in canonical order (equal rules compare and hash equal)."""

    time_zone: str
    weekly: tuple[WeeklyPeriod, ...] = ()
    overrides: tuple[DateOverride, ...] = ()

    def periods_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """Available local periods on ``day``."""
        for override in self.overrides:
            if override.day == day:
                return override.periods
        if not self.weekly:
            return ((0, MINUTES_PER_DAY),)
        weekday = day.isoweekday()
        return tuple((p.start, p.end) for p in self.weekly if p.day == weekday)


@dataclass(frozen=True)
class StoredRules:
    """Rules as stored for one person of one unit."""

    org_unit_id: str
    email: str
    rules: AvailabilityRules
    create_time: datetime
    update_time: datetime


# ----------------------------------------------------------------------------------------- input
class LocalTime(NamedTuple):
    """A ``google.type.TimeOfDay`` as received."""

    hours: int
    minutes: int
    seconds: int = 0
    nanos: int = 0


class CivilDate(NamedTuple):
    """A ``google.type.Date`` as received (0 = unset part)."""

    year: int
    month: int
    day: int


@dataclass(frozen=True)
class PeriodInput:
    start: LocalTime | None
    end: LocalTime | None


@dataclass(frozen=True)
class WeeklyPeriodInput:
    day_of_week: int
    start: LocalTime | None
    end: LocalTime | None


@dataclass(frozen=True)
class DateOverrideInput:
    date: CivilDate | None
    unavailable: bool
    periods: tuple[PeriodInput, ...] = ()


@dataclass(frozen=True)
class RulesInput:
    time_zone: str
    weekly_periods: tuple[WeeklyPeriodInput, ...] = ()
    date_overrides: tuple[DateOverrideInput, ...] = ()


def parse_rules(raw: RulesInput, checks: Checks, field: str = "rules") -> AvailabilityRules | None:
    """Validated, canonical rules; every problem is added to ``checks`` (None when there were any)."""
    before = len(checks.violations)
    zone = raw.time_zone.strip()
    if not zone:
        checks.add(f"{field}.time_zone", "is required", "TIME_ZONE_UNKNOWN", time_zone="")
    elif not is_time_zone(zone):
        checks.add(f"{field}.time_zone", f"{zone!r} is not a known IANA time zone", "TIME_ZONE_UNKNOWN", time_zone=zone)

    weekly: list[WeeklyPeriod] = []
    checks.check(
        len(raw.weekly_periods) <= MAX_WEEKLY_PERIODS,
        f"{field}.weekly_periods",
        f"must have at most {MAX_WEEKLY_PERIODS} periods",
    )
    for i, item in enumerate(raw.weekly_periods[:MAX_WEEKLY_PERIODS]):
        where = f"{field}.weekly_periods[{i}]"
        day_ok = checks.check(1 <= item.day_of_week <= 7, f"{where}.day_of_week", "is required (MONDAY to SUNDAY)")
        span = _period(checks, where, item.start, item.end)
        if day_ok and span is not None:
            weekly.append(WeeklyPeriod(item.day_of_week, *span))
    weekly.sort()
    for day in range(1, 8):
        _no_overlap(checks, [(p.start, p.end) for p in weekly if p.day == day], f"{field}.weekly_periods", DAY_NAMES[day])

    overrides: list[DateOverride] = []
    seen: set[date] = set()
    checks.check(
        len(raw.date_overrides) <= MAX_DATE_OVERRIDES,
        f"{field}.date_overrides",
        f"must have at most {MAX_DATE_OVERRIDES} dates",
    )
    for i, override_in in enumerate(raw.date_overrides[:MAX_DATE_OVERRIDES]):
        where = f"{field}.date_overrides[{i}]"
        on = _civil_date(checks, f"{where}.date", override_in.date)
        if on is not None:
            if on in seen:
                checks.add(f"{where}.date", f"{on.isoformat()} is listed twice", RULES_INVALID)
            seen.add(on)
        periods: list[tuple[int, int]] = []
        if override_in.unavailable:
            checks.check(not override_in.periods, f"{where}.periods", "must be empty for a day off", RULES_INVALID)
        elif checks.check(
            1 <= len(override_in.periods) <= MAX_OVERRIDE_PERIODS,
            f"{where}.periods",
            f"must have 1 to {MAX_OVERRIDE_PERIODS} periods unless unavailable is true",
            RULES_INVALID,
        ):
            for j, p in enumerate(override_in.periods):
                span = _period(checks, f"{where}.periods[{j}]", p.start, p.end)
                if span is not None:
                    periods.append(span)
            periods.sort()
            _no_overlap(checks, periods, f"{where}.periods", on.isoformat() if on else "the date")
        if on is not None:
            overrides.append(DateOverride(on, override_in.unavailable, tuple(periods)))
    if len(checks.violations) > before:
        return None
    overrides.sort()
    return AvailabilityRules(zone, tuple(weekly), tuple(overrides))


def _minutes(checks: Checks, field: str, value: LocalTime | None, *, end: bool) -> int | None:
    if value is None:
        checks.add(field, "is required")
        return None
    if value.seconds or value.nanos:
        checks.add(field, "must be whole minutes")
        return None
    if value.hours == 24 and value.minutes == 0 and end:
        return MINUTES_PER_DAY
    if not (0 <= value.hours <= 23 and 0 <= value.minutes <= 59):
        checks.add(field, "must be a time of day from 00:00 to 23:59" + (" or 24:00" if end else ""))
        return None
    return value.hours * 60 + value.minutes


def _period(checks: Checks, where: str, start: LocalTime | None, end: LocalTime | None) -> tuple[int, int] | None:
    first = _minutes(checks, f"{where}.start_time", start, end=False)
    last = _minutes(checks, f"{where}.end_time", end, end=True)
    if first is None or last is None:
        return None
    if last <= first:
        checks.add(f"{where}.end_time", "must be after start_time", RULES_INVALID)
        return None
    return first, last


def _no_overlap(checks: Checks, periods: list[tuple[int, int]], field: str, what: str) -> None:
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        if start < end:
            checks.add(field, f"periods of {what} overlap", RULES_INVALID)
            return


def _civil_date(checks: Checks, field: str, value: CivilDate | None) -> date | None:
    if value is None:
        checks.add(field, "is required")
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        checks.add(field, "must be a full, valid date (year, month and day)")
        return None


# ------------------------------------------------------------------------------------- expansion
def local_instant(day: date, minute: int, zone: ZoneInfo) -> int:
    """Epoch seconds of ``minute`` minutes after midnight of local ``day`` (1440 = next midnight).

    ``fold=0``: a skipped time moves forward by the gap, a repeated time is its first occurrence.
    """
    if minute >= MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), minute - MINUTES_PER_DAY
    return int(datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone).timestamp())


def available_spans(rules: AvailabilityRules, lo: int, hi: int) -> Spans:
    """The instants of ``[lo, hi)`` (epoch seconds) the rules make available."""
    if lo >= hi:
        return intervals.empty()
    zone = ZoneInfo(rules.time_zone)
    # One local day either side: a local date's hours can reach into the neighbouring UTC days.
    day = datetime.fromtimestamp(lo, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(hi, zone).date() + timedelta(days=1)
    by_date = {o.day: o.periods for o in rules.overrides}
    by_weekday: dict[int, list[tuple[int, int]]] = {d: [] for d in range(1, 8)}
    for p in rules.weekly:
        by_weekday[p.day].append((p.start, p.end))
    if not rules.weekly:
        by_weekday = {d: [(0, MINUTES_PER_DAY)] for d in range(1, 8)}
    starts: list[int] = []
    ends: list[int] = []
    one_day = timedelta(days=1)
    while day <= last:
        periods = by_date.get(day)
        for start, end in by_weekday[day.isoweekday()] if periods is None else periods:
            starts.append(local_instant(day, start, zone))
            ends.append(local_instant(day, end, zone))
        day += one_day
    return intervals.clip(intervals.from_lists(starts, ends), lo, hi)
