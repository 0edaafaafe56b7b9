"""Availability rules become the right UTC instants, across daylight-saving changes in several zones."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kit.errors import InvalidArgument
from services.availability.domain.checks import Checks
from services.availability.domain.engine import Group, Query, ResponseFormat, evaluate
from services.availability.domain.rules import (
    AvailabilityRules,
    CivilDate,
    DateOverride,
    DateOverrideInput,
    LocalTime,
    PeriodInput,
    RulesInput,
    WeeklyPeriod,
    WeeklyPeriodInput,
    available_spans,
    parse_rules,
)

MON, FRI, SAT, SUN = 1, 5, 6, 7


def at(*parts: int) -> int:
    return int(utc(*parts).timestamp())


def spans(rules: AvailabilityRules, first: tuple[int, ...], last: tuple[int, ...]) -> list[tuple[datetime, datetime]]:
    found = available_spans(rules, at(*first), at(*last))
    return [(datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC)) for s, e in found.pairs()]


def utc(*parts: int) -> datetime:
    return datetime(*parts).replace(tzinfo=UTC)  # type: ignore[arg-type]


def weekdays(zone: str, start: int, end: int) -> AvailabilityRules:
    return AvailabilityRules(zone, tuple(WeeklyPeriod(d, start, end) for d in range(MON, FRI + 1)))


def test_new_york_working_hours_move_an_hour_earlier_in_utc_after_the_march_change():
    rules = weekdays("America/New_York", 9 * 60, 17 * 60)
    assert spans(rules, (2026, 3, 6), (2026, 3, 10)) == [
        (utc(2026, 3, 6, 14), utc(2026, 3, 6, 22)),  # Friday, EST (UTC-5)
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),  # Monday, EDT (UTC-4)
    ]


def test_new_york_a_time_in_the_spring_gap_moves_forward_by_the_gap():
    # 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist and means 03:30 EDT.
    rules = AvailabilityRules("America/New_York", (WeeklyPeriod(SUN, 2 * 60 + 30, 5 * 60),))
    assert spans(rules, (2026, 3, 8), (2026, 3, 9)) == [(utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 9))]


def test_new_york_a_repeated_hour_means_its_first_occurrence():
    # 1 November 2026: 02:00 EDT falls back to 01:00 EST; 01:30 first happens at 05:30 UTC.
    rules = AvailabilityRules("America/New_York", (WeeklyPeriod(SUN, 90, 3 * 60),))
    assert spans(rules, (2026, 11, 1), (2026, 11, 2)) == [(utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 8))]


def test_london_whole_days_are_23_and_25_hours_long_on_the_change_days():
    rules = AvailabilityRules("Europe/London", (WeeklyPeriod(SUN, 0, 1440),))
    assert spans(rules, (2026, 3, 28), (2026, 3, 31)) == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 23))]
    assert spans(rules, (2026, 10, 24), (2026, 10, 27)) == [(utc(2026, 10, 24, 23), utc(2026, 10, 26, 0))]


def test_london_working_hours_follow_british_summer_time():
    rules = weekdays("Europe/London", 9 * 60, 17 * 60)
    assert spans(rules, (2026, 3, 27), (2026, 3, 31)) == [
        (utc(2026, 3, 27, 9), utc(2026, 3, 27, 17)),
        (utc(2026, 3, 30, 8), utc(2026, 3, 30, 16)),
    ]


def test_berlin_times_in_the_gap_move_forward_and_a_repeated_time_is_the_first():
    # 29 March 2026 02:00 CET -> 03:00 CEST: 02:15-02:45 means 03:15-03:45 CEST.
    gap = AvailabilityRules("Europe/Berlin", (WeeklyPeriod(SUN, 2 * 60 + 15, 2 * 60 + 45),))
    assert spans(gap, (2026, 3, 29), (2026, 3, 30)) == [(utc(2026, 3, 29, 1, 15), utc(2026, 3, 29, 1, 45))]
    # 25 October 2026 03:00 CEST -> 02:00 CET: 02:30 first happens at 00:30 UTC (CEST).
    repeated = AvailabilityRules("Europe/Berlin", (WeeklyPeriod(SUN, 2 * 60 + 30, 4 * 60),))
    assert spans(repeated, (2026, 10, 25), (2026, 10, 26)) == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3))]


def test_sydney_autumn_change_in_april_and_spring_change_in_october():
    rules = weekdays("Australia/Sydney", 9 * 60, 17 * 60)
    assert spans(rules, (2026, 4, 2, 12), (2026, 4, 6, 12)) == [
        (utc(2026, 4, 2, 22), utc(2026, 4, 3, 6)),  # Friday 3 April, AEDT (UTC+11)
        (utc(2026, 4, 5, 23), utc(2026, 4, 6, 7)),  # Monday 6 April, AEST (UTC+10)
    ]
    assert spans(rules, (2026, 10, 1, 12), (2026, 10, 5, 12)) == [
        (utc(2026, 10, 1, 23), utc(2026, 10, 2, 7)),  # Friday 2 October, AEST
        (utc(2026, 10, 4, 22), utc(2026, 10, 5, 6)),  # Monday 5 October, AEDT
    ]
    # 5 April 2026 03:00 AEDT -> 02:00 AEST: 02:30 first happens under AEDT.
    repeated = AvailabilityRules("Australia/Sydney", (WeeklyPeriod(SUN, 2 * 60 + 30, 3 * 60 + 30),))
    assert spans(repeated, (2026, 4, 4), (2026, 4, 6)) == [(utc(2026, 4, 4, 15, 30), utc(2026, 4, 4, 17, 30))]


def test_a_period_ending_at_24_00_meets_the_next_days_period_starting_at_midnight():
    rules = AvailabilityRules("Europe/London", (WeeklyPeriod(FRI, 22 * 60, 1440), WeeklyPeriod(SAT, 0, 2 * 60)))
    assert spans(rules, (2026, 3, 20), (2026, 3, 23)) == [(utc(2026, 3, 20, 22), utc(2026, 3, 21, 2))]


def test_a_day_off_and_other_hours_replace_the_weekly_periods_of_their_date():
    rules = AvailabilityRules(
        "America/New_York",
        tuple(WeeklyPeriod(d, 9 * 60, 17 * 60) for d in range(MON, FRI + 1)),
        (DateOverride(date(2026, 3, 9), True), DateOverride(date(2026, 3, 10), False, ((7 * 60, 8 * 60),))),
    )
    assert spans(rules, (2026, 3, 9), (2026, 3, 11)) == [(utc(2026, 3, 10, 11), utc(2026, 3, 10, 12))]


def test_rules_without_weekly_periods_leave_every_day_open_except_the_overrides():
    rules = AvailabilityRules("UTC", (), (DateOverride(date(2026, 3, 2), True),))
    assert spans(rules, (2026, 3, 1), (2026, 3, 4)) == [
        (utc(2026, 3, 1), utc(2026, 3, 2)),
        (utc(2026, 3, 3), utc(2026, 3, 4)),
    ]


def test_a_query_across_the_new_york_change_offers_nine_oclock_local_on_both_sides():
    rules = {"ny@x.example": weekdays("America/New_York", 9 * 60, 10 * 60)}
    query = Query(
        periods=((at(2026, 3, 6), at(2026, 3, 10)),),
        duration=3600,
        start_interval=900,
        response_format=ResponseFormat.SLOTS,
    )
    got = evaluate(query, [Group(frozenset(rules))], {"ny@x.example": []}, rules)
    assert [(r.start, r.end) for r in got.results] == [
        (at(2026, 3, 6, 14), at(2026, 3, 6, 15)),
        (at(2026, 3, 9, 13), at(2026, 3, 9, 14)),
    ]


# ------------------------------------------------------------------------------------ validation
def t(h: int, m: int = 0, s: int = 0) -> LocalTime:
    return LocalTime(h, m, s)


def parse(raw: RulesInput) -> AvailabilityRules:
    checks = Checks()
    rules = parse_rules(raw, checks)
    checks.raise_if_any()
    assert rules is not None
    return rules


def violation(raw: RulesInput) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        parse(raw)
    return info.value


def test_valid_rules_come_out_in_canonical_order():
    rules = parse(
        RulesInput(
            "Europe/Berlin",
            (WeeklyPeriodInput(FRI, t(13), t(17)), WeeklyPeriodInput(MON, t(9), t(24)), WeeklyPeriodInput(FRI, t(8), t(12))),
            (DateOverrideInput(CivilDate(2026, 12, 24), True), DateOverrideInput(CivilDate(2026, 1, 2), False, (PeriodInput(t(10), t(11)),))),
        )
    )
    assert rules.weekly == (WeeklyPeriod(MON, 540, 1440), WeeklyPeriod(FRI, 480, 720), WeeklyPeriod(FRI, 780, 1020))
    assert [o.day for o in rules.overrides] == [date(2026, 1, 2), date(2026, 12, 24)]


def test_an_unknown_time_zone_is_time_zone_unknown_naming_the_field():
    error = violation(RulesInput("Mars/Olympus_Mons"))
    assert error.reason == "TIME_ZONE_UNKNOWN"
    assert error.metadata["field"] == "rules.time_zone"


def test_overlapping_periods_of_one_day_are_availability_rules_invalid():
    error = violation(RulesInput("UTC", (WeeklyPeriodInput(MON, t(9), t(12)), WeeklyPeriodInput(MON, t(11), t(13)))))
    assert error.reason == "AVAILABILITY_RULES_INVALID"
    assert [v.field for v in error.violations] == ["rules.weekly_periods"]


def test_empty_or_backwards_periods_and_non_minute_times_are_refused_with_their_fields():
    error = violation(
        RulesInput(
            "UTC",
            (
                WeeklyPeriodInput(MON, t(12), t(12)),
                WeeklyPeriodInput(TUESDAY := 2, t(9, 0, 30), t(10)),
                WeeklyPeriodInput(0, t(9), t(10)),
                WeeklyPeriodInput(3, t(24), t(24)),
                WeeklyPeriodInput(4, None, t(10)),
            ),
        )
    )
    assert TUESDAY == 2
    assert {v.field for v in error.violations} == {
        "rules.weekly_periods[0].end_time",
        "rules.weekly_periods[1].start_time",
        "rules.weekly_periods[2].day_of_week",
        "rules.weekly_periods[3].start_time",
        "rules.weekly_periods[4].start_time",
    }


def test_a_date_listed_twice_a_day_off_with_hours_and_an_override_without_hours_are_invalid():
    error = violation(
        RulesInput(
            "UTC",
            (),
            (
                DateOverrideInput(CivilDate(2026, 5, 1), True, (PeriodInput(t(9), t(10)),)),
                DateOverrideInput(CivilDate(2026, 5, 1), False, (PeriodInput(t(9), t(10)),)),
                DateOverrideInput(CivilDate(2026, 5, 2), False, ()),
                DateOverrideInput(CivilDate(2026, 2, 30), True),
            ),
        )
    )
    assert error.reason == "AVAILABILITY_RULES_INVALID"
    assert {v.field for v in error.violations} == {
        "rules.date_overrides[0].periods",
        "rules.date_overrides[1].date",
        "rules.date_overrides[2].periods",
        "rules.date_overrides[3].date",
    }


def test_more_than_70_weekly_periods_are_refused():
    many = tuple(WeeklyPeriodInput(1 + i % 7, t(i // 7), t(i // 7, 30)) for i in range(71))
    error = violation(RulesInput("UTC", many))
    assert error.metadata["field"] == "rules.weekly_periods"
