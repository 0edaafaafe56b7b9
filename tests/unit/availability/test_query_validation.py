"""Bad QueryAvailability and GetFreeBusy input is INVALID_ARGUMENT naming the field and its reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kit.errors import InvalidArgument
from services.availability.domain.engine import ResponseFormat
from services.availability.domain.query import (
    GroupInput,
    Instant,
    Length,
    QueryInput,
    TimeRangeInput,
    parse_query,
    parse_window,
)

T0 = 1_772_323_200  # 2026-03-01T00:00:00Z
HOUR = 3600
DAY = 86400


def window(start: int, end: int) -> TimeRangeInput:
    return TimeRangeInput(Instant(start), Instant(end))


GOOD = QueryInput(
    groups=(GroupInput(("Ada@Northwind.example", "alan@northwind.example"), 1),),
    periods=(window(T0, T0 + DAY),),
    duration=Length(30 * 60),
)


def refused(raw: QueryInput) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        parse_query(raw)
    return info.value


def test_a_good_query_gets_its_defaults_and_lower_cased_members():
    parsed = parse_query(GOOD)
    assert parsed.emails == ("ada@northwind.example", "alan@northwind.example")
    assert parsed.query.start_interval == 15 * 60
    assert parsed.query.response_format is ResponseFormat.PERIODS
    assert parsed.query.max_results == 256
    assert parsed.query.periods == ((T0, T0 + DAY),)


def test_a_window_ending_before_it_starts_is_time_range_invalid():
    error = refused(replace(GOOD, periods=(window(T0 + HOUR, T0),)))
    assert (error.reason, error.metadata["field"]) == ("TIME_RANGE_INVALID", "query_periods[0].end_time")


def test_periods_spanning_more_than_42_days_are_time_range_too_long():
    error = refused(replace(GOOD, periods=(window(T0, T0 + HOUR), window(T0 + 42 * DAY, T0 + 42 * DAY + 1))))
    assert (error.reason, error.metadata["field"], error.metadata["max_duration"]) == (
        "TIME_RANGE_TOO_LONG",
        "query_periods",
        "1008h",
    )
    assert parse_query(replace(GOOD, periods=(window(T0, T0 + 42 * DAY),))).query.periods


def test_more_than_50_participants_is_too_many_participants():
    groups = tuple(GroupInput(tuple(f"p{i}-{j}@x.example" for j in range(10))) for i in range(6))
    error = refused(replace(GOOD, groups=groups))
    assert (error.reason, error.metadata["field"], error.metadata["max"]) == ("TOO_MANY_PARTICIPANTS", "participant_groups", "50")


def test_an_email_in_several_groups_counts_once_towards_the_limit():
    shared = tuple(f"p{j}@x.example" for j in range(50))
    assert len(parse_query(replace(GOOD, groups=(GroupInput(shared), GroupInput(shared, 3)))).emails) == 50


def test_too_many_groups_and_too_many_periods_name_their_limits():
    error = refused(replace(GOOD, groups=tuple(GroupInput(("a@x.example",)) for _ in range(11))))
    assert (error.reason, error.metadata["max"]) == ("TOO_MANY_PARTICIPANT_GROUPS", "10")
    error = refused(replace(GOOD, periods=tuple(window(T0 + i * HOUR, T0 + i * HOUR + 60) for i in range(21))))
    assert (error.reason, error.metadata["max"]) == ("TOO_MANY_QUERY_PERIODS", "20")


@pytest.mark.parametrize(
    "duration", [None, Length(0), Length(-1800), Length(90), Length(1800, 5), Length(DAY + 60)], ids=str
)
def test_missing_zero_negative_odd_or_too_long_durations_are_duration_invalid(duration):
    error = refused(replace(GOOD, duration=duration))
    assert (error.reason, error.metadata["field"]) == ("DURATION_INVALID", "duration")


def test_required_count_larger_than_the_group_is_required_count_invalid():
    error = refused(replace(GOOD, groups=(GroupInput(("a@x.example", "A@x.example", "b@x.example"), 3),)))
    assert (error.reason, error.metadata["field"]) == ("REQUIRED_COUNT_INVALID", "participant_groups[0].required_count")
    error = refused(replace(GOOD, groups=(GroupInput(("a@x.example",), -1),)))
    assert error.reason == "REQUIRED_COUNT_INVALID"


def test_buffers_and_start_interval_must_be_whole_minutes_in_range():
    error = refused(replace(GOOD, buffer_before=Length(-60), buffer_after=Length(30)))
    assert error.reason == "BUFFER_INVALID"
    assert [v.field for v in error.violations] == ["buffer_before", "buffer_after"]
    for interval in (Length(0), Length(30), Length(DAY + 60)):
        error = refused(replace(GOOD, start_interval=interval))
        assert (error.reason, error.metadata["field"]) == ("START_INTERVAL_INVALID", "start_interval")


def test_max_results_format_excluded_bookings_and_emails_are_checked_together():
    error = refused(
        replace(
            GOOD,
            groups=(GroupInput(("not-an-email", "")),),
            max_results=513,
            response_format=9,
            exclude_booking_ids=tuple(str(i) for i in range(11)),
        )
    )
    assert error.reason == "FIELD_INVALID"
    assert {v.field for v in error.violations} == {
        "participant_groups[0].members[0].email",
        "participant_groups[0].members[1].email",
        "max_results",
        "response_format",
        "exclude_booking_ids",
    }


def test_empty_groups_and_missing_periods_are_refused():
    error = refused(replace(GOOD, groups=(), periods=()))
    assert {v.field for v in error.violations} == {"participant_groups", "query_periods"}
    error = refused(replace(GOOD, groups=(GroupInput(()),), periods=(TimeRangeInput(None, Instant(T0)),)))
    assert {v.field for v in error.violations} == {"participant_groups[0].members", "query_periods[0].start_time"}


def test_a_free_busy_window_is_checked_like_a_query_period():
    assert parse_window(window(T0, T0 + HOUR)) == (T0, T0 + HOUR)
    with pytest.raises(InvalidArgument) as info:
        parse_window(window(T0, T0 + 43 * DAY))
    assert (info.value.reason, info.value.metadata["field"]) == ("TIME_RANGE_TOO_LONG", "window")
    with pytest.raises(InvalidArgument) as info:
        parse_window(None)
    assert info.value.metadata["field"] == "window"
