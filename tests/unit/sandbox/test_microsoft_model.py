"""Unit tests for the Microsoft emulator's pure parts: time zones, recurrence, the free/busy index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sandbox.providers.microsoft_recurrence import expand
from sandbox.providers.microsoft_schedule import Busy, MailboxSchedule, availability_view
from sandbox.providers.microsoft_time import format_graph, parse_graph_datetime, prefer_timezone, resolve_zone

LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("name", "key"),
    [("Pacific Standard Time", "America/Los_Angeles"), ("W. Europe Standard Time", "Europe/Berlin"),
     ("GMT Standard Time", "Europe/London"), ("Eastern Standard Time", "America/New_York"),
     ("Europe/Paris", "Europe/Paris"), ("pacific standard time", "America/Los_Angeles")],
)  # fmt: skip
def test_resolve_zone_windows_and_iana(name, key):
    assert getattr(resolve_zone(name), "key", None) == key


def test_resolve_zone_utc_and_unknown():
    assert (
        resolve_zone("UTC") is UTC
        and resolve_zone(None) is UTC
        and resolve_zone("Mars Standard Time") is None
    )


def test_parse_graph_datetime_uses_zone_unless_offset_given():
    pst = parse_graph_datetime(
        {"dateTime": "2026-03-15T09:00:00.0000000", "timeZone": "Pacific Standard Time"}
    )
    assert pst == datetime(2026, 3, 15, 16, tzinfo=UTC)
    explicit = parse_graph_datetime({"dateTime": "2026-03-15T09:00:00Z", "timeZone": "Pacific Standard Time"})
    assert explicit == datetime(2026, 3, 15, 9, tzinfo=UTC)
    assert parse_graph_datetime({"dateTime": "nope", "timeZone": "UTC"}) is None
    assert parse_graph_datetime({"dateTime": "2026-03-15T09:00:00", "timeZone": "Nowhere"}) is None


def test_prefer_header_and_formatting():
    assert prefer_timezone(
        'outlook.timezone="W. Europe Standard Time", outlook.body-content-type="text"'
    ) == ("W. Europe Standard Time")
    assert prefer_timezone("return=minimal") is None
    ts = datetime(2026, 7, 1, 12, tzinfo=UTC).timestamp()
    assert format_graph(ts, ZoneInfo("Europe/Berlin")) == "2026-07-01T14:00:00.0000000"


def test_weekly_series_keeps_wall_clock_across_dst():
    start = datetime(2026, 3, 2, 9, 30, tzinfo=LA)
    rec = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
           "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-03-16"}}  # fmt: skip
    got = expand(start, timedelta(minutes=15), rec, LA)
    assert [s.astimezone(LA).hour for s, _ in got] == [9, 9, 9]
    assert [s.astimezone(UTC).hour for s, _ in got] == [17, 16, 16]  # DST starts 2026-03-08


def test_weekly_interval_days_and_numbered_range():
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    rec = {"pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "monday"},
           "range": {"type": "numbered", "startDate": "2026-01-05", "numberOfOccurrences": 5}}  # fmt: skip
    days = [s.date() for s, _ in expand(start, timedelta(hours=1), rec, UTC)]
    assert days == [
        date(2026, 1, 5),
        date(2026, 1, 8),
        date(2026, 1, 19),
        date(2026, 1, 22),
        date(2026, 2, 2),
    ]


def test_monthly_yearly_daily_patterns_and_cancelled_dates():
    start = datetime(2026, 1, 31, 10, tzinfo=UTC)
    monthly = {"pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
               "range": {"type": "endDate", "startDate": "2026-01-31", "endDate": "2026-06-30"}}  # fmt: skip
    assert [s.month for s, _ in expand(start, timedelta(hours=1), monthly, UTC)] == [1, 3, 5]
    relative = {"pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
                "range": {"type": "numbered", "startDate": "2026-01-01", "numberOfOccurrences": 2}}  # fmt: skip
    assert [s.day for s, _ in expand(start, timedelta(hours=1), relative, UTC)] == [30, 27]
    yearly = {"pattern": {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 14},
              "range": {"type": "numbered", "startDate": "2026-01-01", "numberOfOccurrences": 2}}  # fmt: skip
    assert [(s.year, s.month, s.day) for s, _ in expand(start, timedelta(hours=1), yearly, UTC)] == [
        (2026, 2, 14),
        (2027, 2, 14),
    ]
    daily = {
        "pattern": {"type": "daily", "interval": 3},
        "range": {"type": "noEnd", "startDate": "2026-01-01"},
    }
    got = expand(start, timedelta(hours=1), daily, UTC, frozenset({date(2026, 1, 4)}))
    assert [s.day for s, _ in got[:3]] == [1, 7, 10] and len(got) < 400


def test_index_overlap_and_availability_view_precedence():
    hour = 3600.0
    items = [Busy(0, 2 * hour, "busy", "a", None, False, "1"), Busy(hour, 3 * hour, "oof", "b", None, False, "2"),
             Busy(4 * hour, 5 * hour, "tentative", "c", None, False, "3"),
             Busy(4 * hour, 6 * hour, "workingElsewhere", "d", None, False, "4"),
             Busy(-10 * hour, 0.5 * hour, "free", "e", None, False, "5")]  # fmt: skip
    index = MailboxSchedule.build(items)
    assert [b.event_id for b in index.overlapping(1.5 * hour, 4.5 * hour)] == ["1", "2", "3", "4"]
    assert [b.event_id for b in index.overlapping(0, 0.25 * hour)] == ["5", "1"]
    assert availability_view(index.overlapping(0, 7 * hour), 0, 7 * hour, hour) == "2330140"
    assert availability_view([], 0, 90 * 60, 3600) == "00"
