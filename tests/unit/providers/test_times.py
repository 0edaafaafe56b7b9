"""Provider time formats in and out, always as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from providers.times import (
    ensure_utc,
    format_rfc3339,
    format_utc_seconds,
    graph_date_time,
    odata_datetimeoffset,
    parse_graph_date_time,
    parse_odata_date,
    parse_retry_after,
    parse_rfc3339,
)

BERLIN_SUMMER = timezone(timedelta(hours=2))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        ensure_utc(datetime(2026, 1, 1))


def test_rfc3339_is_written_in_utc_with_z():
    assert format_rfc3339(datetime(2026, 7, 1, 14, 0, tzinfo=BERLIN_SUMMER)) == "2026-07-01T12:00:00Z"
    assert format_rfc3339(datetime(2026, 7, 1, 12, 0, 0, 500000, tzinfo=UTC)) == "2026-07-01T12:00:00.500000Z"
    assert format_utc_seconds(datetime(2026, 7, 1, 12, 0, 0, 500000, tzinfo=UTC)) == "2026-07-01T12:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-01T13:00:00Z", datetime(2026, 10, 1, 13, tzinfo=UTC)),
        ("2026-10-01T15:00:00+02:00", datetime(2026, 10, 1, 13, tzinfo=UTC)),
        ("2026-03-15T12:00:00.0000000", datetime(2026, 3, 15, 12, tzinfo=UTC)),
        ("2026-03-15T12:00:00.1234567Z", datetime(2026, 3, 15, 12, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_is_read_as_aware_utc(text, expected):
    parsed = parse_rfc3339(text)

    assert parsed == expected and parsed.tzinfo == UTC


def test_graph_date_time_round_trip():
    moment = datetime(2026, 3, 15, 10, 0, tzinfo=BERLIN_SUMMER)

    written = graph_date_time(moment)

    assert written == {"dateTime": "2026-03-15T08:00:00", "timeZone": "UTC"}
    assert parse_graph_date_time({"dateTime": "2026-03-15T08:00:00.0000000", "timeZone": "UTC"}) == moment


def test_graph_date_time_in_an_iana_zone_is_converted():
    value = {"dateTime": "2026-07-01T14:00:00.0000000", "timeZone": "Europe/Berlin"}

    assert parse_graph_date_time(value) == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_graph_date_time_in_a_windows_zone_is_refused():
    with pytest.raises(ValueError):
        parse_graph_date_time({"dateTime": "2026-07-01T14:00:00", "timeZone": "Pacific Standard Time"})


@pytest.mark.parametrize(
    "text", ["/Date(1700000000000+0000)/", "/Date(1700000000000)/", "/Date(1700000000000+0060)/"]
)
def test_odata_dates_are_epoch_milliseconds_in_utc(text):
    assert parse_odata_date(text) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_an_odata_filter_literal():
    assert odata_datetimeoffset(datetime(2026, 3, 1, tzinfo=UTC)) == "datetimeoffset'2026-03-01T00:00:00Z'"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sun, 01 Mar 2026 12:00:10 GMT", 10.0),
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header, seconds):
    assert parse_retry_after(header, datetime(2026, 3, 1, 12, tzinfo=UTC)) == seconds
