"""RRULE expansion used by the Google free/busy emulation."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from sandbox.providers.google_recurrence import Rule, expand, parse_exdates, parse_rrule

LONDON = ZoneInfo("Europe/London")
HORIZON = datetime(2028, 1, 1, tzinfo=UTC)


def test_parse_rrule_reads_every_supported_part() -> None:
    rule = parse_rrule("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,MO;COUNT=5")
    assert rule == Rule(freq="WEEKLY", interval=2, count=5, byday=(0, 1))


def test_parse_rrule_reads_utc_and_date_until() -> None:
    assert parse_rrule("RRULE:FREQ=DAILY;UNTIL=20261231T235959Z").until == datetime(
        2026, 12, 31, 23, 59, 59, tzinfo=UTC
    )
    assert parse_rrule("RRULE:FREQ=DAILY;UNTIL=20261231").until == date(2026, 12, 31)


def test_parse_rrule_without_freq_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_rrule("RRULE:COUNT=3")


def test_weekly_byday_with_count_keeps_local_time_across_dst() -> None:
    first = datetime(2026, 10, 19, 9, 30, tzinfo=LONDON)
    got = list(expand(first, parse_rrule("FREQ=WEEKLY;BYDAY=MO,FR;COUNT=4"), LONDON, HORIZON))
    assert [d.isoformat() for d in got] == [
        "2026-10-19T09:30:00+01:00",
        "2026-10-23T09:30:00+01:00",
        "2026-10-26T09:30:00+00:00",
        "2026-10-30T09:30:00+00:00",
    ]


def test_weekly_interval_skips_weeks() -> None:
    first = datetime(2026, 9, 1, 10, 0, tzinfo=LONDON)
    got = list(expand(first, parse_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=3"), LONDON, HORIZON))
    assert [d.date() for d in got] == [date(2026, 9, 1), date(2026, 9, 15), date(2026, 9, 29)]


def test_daily_byday_skips_weekends() -> None:
    first = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    got = list(expand(first, parse_rrule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=5"), UTC, HORIZON))
    assert [d.date().isoformat() for d in got] == [
        "2026-10-01",
        "2026-10-02",
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
    ]


def test_daily_interval_and_utc_until_is_inclusive() -> None:
    first = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    got = list(expand(first, parse_rrule("FREQ=DAILY;INTERVAL=3;UNTIL=20261007T080000Z"), UTC, HORIZON))
    assert [d.day for d in got] == [1, 4, 7]


def test_all_day_series_yields_dates_until_date_until() -> None:
    got = list(expand(date(2026, 10, 1), parse_rrule("FREQ=WEEKLY;UNTIL=20261015"), LONDON, HORIZON))
    assert got == [date(2026, 10, 1), date(2026, 10, 8), date(2026, 10, 15)]


def test_infinite_series_stops_at_the_horizon() -> None:
    horizon = datetime(2026, 10, 11, tzinfo=UTC)
    got = list(expand(datetime(2026, 10, 1, 9, tzinfo=UTC), parse_rrule("FREQ=DAILY"), UTC, horizon))
    assert len(got) == 10


def test_unsupported_frequency_yields_only_the_first_instance() -> None:
    got = list(
        expand(datetime(2026, 10, 1, 9, tzinfo=UTC), parse_rrule("FREQ=MONTHLY;COUNT=5"), UTC, HORIZON)
    )
    assert len(got) == 1


def test_exdates_in_every_form() -> None:
    instants, dates = parse_exdates(
        [
            "RRULE:FREQ=DAILY",
            "EXDATE;TZID=Europe/London:20261005T093000,20261007T093000",
            "EXDATE:20261009T083000Z",
            "EXDATE;VALUE=DATE:20261224",
        ],
        UTC,
    )
    assert datetime(2026, 10, 5, 8, 30, tzinfo=UTC).timestamp() in instants
    assert datetime(2026, 10, 7, 8, 30, tzinfo=UTC).timestamp() in instants
    assert datetime(2026, 10, 9, 8, 30, tzinfo=UTC).timestamp() in instants
    assert date(2026, 12, 24) in dates
