"""Google state pieces without HTTP: busy computation, directory queries, bulk users."""

from datetime import UTC, datetime

import pytest

from sandbox.providers import google
from sandbox.providers.google_busy import busy_between
from sandbox.providers.google_directory import parse_query
from sandbox.providers.google_state import User


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def fresh() -> google.State:
    return google.load(
        {
            "customers": [{"id": "C1", "domains": [{"domainName": "x.example", "isPrimary": True}]}],
            "users": [{"primaryEmail": "a@x.example", "timeZone": "Europe/London"}],
            "calendars": [
                {
                    "id": "a@x.example",
                    "events": [
                        {
                            "id": "e1",
                            "start": {"dateTime": "2026-10-01T09:00:00Z"},
                            "end": {"dateTime": "2026-10-01T10:00:00Z"},
                        },
                        {
                            "id": "e2",
                            "start": {"dateTime": "2026-10-01T09:30:00Z"},
                            "end": {"dateTime": "2026-10-01T11:00:00Z"},
                        },
                        {"id": "e3", "start": {"date": "2026-10-03"}, "end": {"date": "2026-10-04"}},
                        {
                            "id": "bad",
                            "start": {"dateTime": "nonsense"},
                            "end": {"dateTime": "2026-10-01T10:00:00Z"},
                        },
                    ],
                }
            ],
        }
    )


def test_overlapping_events_merge_and_results_are_clipped() -> None:
    state = fresh()
    cal = state.calendar("a@x.example")
    assert cal is not None
    got = busy_between(
        state,
        cal,
        ts("2026-10-01T10:00:00+00:00"),
        ts("2026-10-02T00:00:00+00:00"),
        ts("2026-01-01T00:00:00+00:00"),
    )
    assert got == [(ts("2026-10-01T10:00:00+00:00"), ts("2026-10-01T11:00:00+00:00"))]


def test_all_day_events_use_the_calendar_time_zone() -> None:
    state = fresh()
    cal = state.calendar("a@x.example")
    assert cal is not None
    got = busy_between(state, cal, ts("2026-10-02T00:00:00+00:00"), ts("2026-10-05T00:00:00+00:00"), 0)
    assert got == [(ts("2026-10-02T23:00:00+00:00"), ts("2026-10-03T23:00:00+00:00"))]


def test_cache_is_rebuilt_after_an_event_change() -> None:
    state = fresh()
    cal = state.calendar("a@x.example")
    assert cal is not None
    lo, hi = ts("2026-10-05T00:00:00+00:00"), ts("2026-10-06T00:00:00+00:00")
    assert busy_between(state, cal, lo, hi, 0) == []
    google.seed(
        state,
        {
            "calendars": [
                {
                    "id": "a@x.example",
                    "events": [
                        {
                            "id": "e4",
                            "start": {"dateTime": "2026-10-05T12:00:00Z"},
                            "end": {"dateTime": "2026-10-05T13:00:00Z"},
                        }
                    ],
                }
            ]
        },
    )
    assert busy_between(state, cal, lo, hi, 0) == [
        (ts("2026-10-05T12:00:00+00:00"), ts("2026-10-05T13:00:00+00:00"))
    ]


def test_primary_calendars_are_made_on_first_use_for_users_only() -> None:
    state = fresh()
    google.bulk_users(state, count=3, prefix="p")
    assert state.calendar("p000001@x.example") is not None
    assert state.calendar("nobody@x.example") is None


def test_bulk_users_are_listed_in_email_order() -> None:
    state = fresh()
    assert google.bulk_users(state, tenant="C1", domain="x.example", count=2000, prefix="u") == 2000
    emails = [u.email for u in state.ordered_users()]
    assert emails == sorted(emails) and len(emails) == 2001


def test_update_user_suspends_renames_and_deletes() -> None:
    state = fresh()
    resource = google.update_user(state, "a@x.example", {"suspended": True, "primaryEmail": "b@x.example"})
    assert resource is not None and resource["suspended"] and resource["primaryEmail"] == "b@x.example"
    assert state.calendar("b@x.example") is not None
    assert google.update_user(state, "nobody@x.example", {}) is None


@pytest.mark.parametrize(
    ("query", "email", "expected"),
    [
        ("isSuspended=false", "a@x.example", True),
        ("isSuspended=true", "a@x.example", False),
        ("email:a*", "a@x.example", True),
        ("email:'b@x.example'", "a@x.example", False),
        ("givenName:Ada isAdmin=false", "a@x.example", True),
        ("orgUnitPath='/Sales'", "a@x.example", False),
    ],
)
def test_directory_query_clauses(query: str, email: str, expected: bool) -> None:
    user = User(id="1", email=email, given_name="Ada", family_name="L", customer_id="C1")
    assert all(p(user) for p in parse_query(query)) is expected


@pytest.mark.parametrize("query", ["isSuspended=maybe", "shoeSize=9", "garbage"])
def test_directory_query_rejects_what_it_does_not_understand(query: str) -> None:
    with pytest.raises(ValueError):
        parse_query(query)


def test_datetime_helpers_format_like_google() -> None:
    from sandbox.providers.google_common import format_instant, format_millis, zone

    moment = datetime(2026, 10, 1, 13, tzinfo=UTC).timestamp()
    assert format_instant(moment) == "2026-10-01T13:00:00Z"
    assert format_instant(moment, zone("Europe/Berlin")) == "2026-10-01T15:00:00+02:00"
    assert format_millis(moment) == "2026-10-01T13:00:00.000Z"
    with pytest.raises(ValueError):
        zone("Mars/Olympus")
