"""Google Calendar: free/busy (chunked, per-calendar errors), events and the calendar list."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from providers import Interval, ProviderAuthError, ProviderBadRequest, ProviderNotFound, ProviderUnavailable
from providers.google import CalendarError, GoogleCalendar, new_event_id

BASE = "https://www.googleapis.com/calendar/v3"
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 10, 2, tzinfo=UTC)


@pytest.fixture
def calendar(http, endpoints):
    return GoogleCalendar(http, endpoints)


def backend_error(status=503):
    return {
        "error": {"errors": [{"domain": "global", "reason": "backendError"}], "code": status, "message": "x"}
    }


async def test_free_busy_sends_one_query_and_reads_busy_and_per_calendar_errors(calendar, upstream):
    upstream.reply(
        200,
        {
            "kind": "calendar#freeBusy",
            "calendars": {
                "ada@northwind.example": {
                    "busy": [
                        {"start": "2026-10-01T15:00:00Z", "end": "2026-10-01T16:00:00Z"},
                        {"start": "2026-10-01T13:00:00+00:00", "end": "2026-10-01T13:30:00Z"},
                    ]
                },
                "bob@other.example": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []},
            },
        },
    )

    result = await calendar.free_busy("tok", ["ada@northwind.example", "bob@other.example"], START, END)

    request = upstream.last
    assert (request.method, upstream.url()) == ("POST", f"{BASE}/freeBusy")
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["content-type"] == "application/json"
    assert upstream.json() == {
        "timeMin": "2026-10-01T00:00:00Z",
        "timeMax": "2026-10-02T00:00:00Z",
        "timeZone": "UTC",
        "items": [{"id": "ada@northwind.example"}, {"id": "bob@other.example"}],
    }
    ada = result["ada@northwind.example"]
    assert ada.ok
    assert ada.busy == (
        Interval(datetime(2026, 10, 1, 13, tzinfo=UTC), datetime(2026, 10, 1, 13, 30, tzinfo=UTC)),
        Interval(datetime(2026, 10, 1, 15, tzinfo=UTC), datetime(2026, 10, 1, 16, tzinfo=UTC)),
    )
    bob = result["bob@other.example"]
    assert not bob.ok and bob.errors == (CalendarError("notFound", "global"),) and bob.busy == ()


async def test_120_calendars_go_out_as_three_concurrent_calls_of_at_most_50(calendar, upstream):
    ids = [f"user{i}@northwind.example" for i in range(120)]

    def answer(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        return httpx.Response(200, json={"calendars": {item["id"]: {"busy": []} for item in items}})

    upstream.handler = answer

    result = await calendar.free_busy("tok", ids, START, END)

    sizes = [len(upstream.json(i)["items"]) for i in range(len(upstream.requests))]
    assert sorted(sizes) == [20, 50, 50]
    sent = [item["id"] for i in range(3) for item in upstream.json(i)["items"]]
    assert sorted(sent) == sorted(ids)
    assert list(result) == ids and all(r.ok for r in result.values())


async def test_a_chunk_that_stays_unavailable_marks_only_its_calendars(calendar, upstream):
    ids = [f"user{i}@northwind.example" for i in range(60)]

    def answer(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        if len(items) == 10:
            return httpx.Response(503, json=backend_error())
        return httpx.Response(200, json={"calendars": {item["id"]: {"busy": []} for item in items}})

    upstream.handler = answer

    result = await calendar.free_busy("tok", ids, START, END)

    failed = [cid for cid, r in result.items() if not r.ok]
    assert failed == ids[50:]
    assert result[ids[55]].errors == (CalendarError("providerUnavailable", "rendezvous"),)
    assert len(upstream.requests) == 1 + 4  # the failing chunk was retried three times


async def test_an_auth_failure_raises_rather_than_reporting_everyone_unknown(calendar, upstream):
    upstream.reply(
        401, {"error": {"errors": [{"domain": "global", "reason": "authError"}], "code": 401, "message": "x"}}
    )

    with pytest.raises(ProviderAuthError):
        await calendar.free_busy("tok", ["a@x"], START, END)


async def test_a_calendar_missing_from_the_answer_is_never_free(calendar, upstream):
    upstream.reply(200, {"calendars": {"A@X.example": {"busy": []}}})

    result = await calendar.free_busy("tok", ["a@x.example", "b@x.example"], START, END)

    assert result["a@x.example"].ok
    assert result["b@x.example"].errors == (CalendarError("notReturned", "rendezvous"),)


async def test_free_busy_refuses_an_empty_window_and_naive_times(calendar):
    with pytest.raises(ValueError):
        await calendar.free_busy("tok", ["a@x"], END, START)
    with pytest.raises(ValueError):
        await calendar.free_busy("tok", ["a@x"], datetime(2026, 1, 1), END)


EVENT = {
    "id": "evt1",
    "status": "confirmed",
    "htmlLink": "https://www.google.com/calendar/event?eid=x",
    "iCalUID": "evt1@google.com",
    "etag": '"3"',
    "hangoutLink": "https://meet.google.com/abc-mnop-xyz",
    "conferenceData": {
        "createRequest": {"requestId": "r", "status": {"statusCode": "success"}},
        "entryPoints": [
            {"entryPointType": "phone", "uri": "tel:+1-555"},
            {"entryPointType": "video", "uri": "https://meet.google.com/abc-mnop-xyz"},
        ],
        "conferenceId": "abc-mnop-xyz",
    },
}
BODY = {
    "summary": "Sync",
    "start": {"dateTime": "2026-10-01T10:00:00Z", "timeZone": "UTC"},
    "end": {"dateTime": "2026-10-01T10:30:00Z", "timeZone": "UTC"},
    "attendees": [
        {"email": "bob@northwind.example"},
        {"email": "room-1@resource.calendar.google.com", "resource": True},
    ],
}


async def test_insert_event_with_meet_asks_for_conference_data_version_1(calendar, upstream):
    upstream.reply(200, EVENT)

    event = await calendar.insert_event(
        "tok", "ada@northwind.example", BODY, conference=True, event_id="abc123def"
    )

    assert upstream.url() == f"{BASE}/calendars/ada@northwind.example/events"
    assert upstream.query() == {"conferenceDataVersion": "1", "sendUpdates": "all"}
    assert upstream.json() == {
        **BODY,
        "id": "abc123def",
        "conferenceData": {
            "createRequest": {"requestId": "abc123def", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        },
    }
    assert (event.id, event.status, event.ical_uid, event.etag) == (
        "evt1",
        "confirmed",
        "evt1@google.com",
        '"3"',
    )
    assert event.meet_url == "https://meet.google.com/abc-mnop-xyz"
    assert event.conference_status == "success"
    assert event.raw["conferenceData"]["conferenceId"] == "abc-mnop-xyz"


async def test_insert_event_without_meet_sends_no_conference_data(calendar, upstream):
    upstream.reply(200, {"id": "evt2"})

    event = await calendar.insert_event("tok", "primary", BODY, send_updates="none")

    assert upstream.query() == {"sendUpdates": "none"}
    assert upstream.json() == BODY
    assert event.meet_url is None and event.conference_status is None


async def test_insert_event_without_an_event_id_is_not_retried(calendar, upstream):
    upstream.reply(503, backend_error())

    with pytest.raises(ProviderUnavailable):
        await calendar.insert_event("tok", "primary", BODY)

    assert len(upstream.requests) == 1


async def test_insert_event_with_an_event_id_is_retried_and_a_duplicate_returns_the_first(calendar, upstream):
    upstream.reply(503, backend_error())
    upstream.reply(
        409,
        {"error": {"errors": [{"domain": "global", "reason": "duplicate"}], "code": 409, "message": "dup"}},
    )
    upstream.reply(200, {**EVENT, "id": "abcdef12345"})

    event = await calendar.insert_event("tok", "primary", BODY, event_id="abcdef12345")

    assert [r.method for r in upstream.requests] == ["POST", "POST", "GET"]
    assert upstream.url() == f"{BASE}/calendars/primary/events/abcdef12345"
    assert event.id == "abcdef12345"


async def test_a_duplicate_without_our_event_id_is_a_bad_request(calendar, upstream):
    upstream.reply(
        409,
        {"error": {"errors": [{"domain": "global", "reason": "duplicate"}], "code": 409, "message": "dup"}},
    )

    with pytest.raises(ProviderBadRequest) as caught:
        await calendar.insert_event("tok", "primary", {**BODY, "id": "theirs1"})

    assert caught.value.code == "duplicate"


def test_new_event_ids_use_the_base32hex_alphabet():
    event_id = new_event_id()

    assert 5 <= len(event_id) <= 1024 and set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")


async def test_get_event_reads_one_event(calendar, upstream):
    upstream.reply(200, EVENT)

    event = await calendar.get_event("tok", "ada@northwind.example", "evt1")

    assert (upstream.last.method, upstream.url()) == (
        "GET",
        f"{BASE}/calendars/ada@northwind.example/events/evt1",
    )
    assert event.id == "evt1"


async def test_patch_event_merges_and_asks_for_conference_data_only_when_it_touches_it(calendar, upstream):
    upstream.reply(200, EVENT)
    upstream.reply(200, EVENT)

    await calendar.patch_event("tok", "primary", "evt1", {"summary": "Renamed"})
    await calendar.patch_event(
        "tok", "primary", "evt1", {"conferenceData": None}, send_updates="externalOnly"
    )

    assert upstream.requests[0].method == "PATCH"
    assert upstream.url(0) == f"{BASE}/calendars/primary/events/evt1"
    assert upstream.query(0) == {"sendUpdates": "all"}
    assert upstream.json(0) == {"summary": "Renamed"}
    assert upstream.query(1) == {"conferenceDataVersion": "1", "sendUpdates": "externalOnly"}


async def test_delete_event_returns_true_on_204(calendar, upstream):
    upstream.reply(204)

    assert await calendar.delete_event("tok", "primary", "evt1") is True

    assert (upstream.last.method, upstream.url()) == ("DELETE", f"{BASE}/calendars/primary/events/evt1")
    assert upstream.query() == {"sendUpdates": "all"}


async def test_deleting_an_already_deleted_event_returns_false(calendar, upstream):
    upstream.reply(
        410,
        {
            "error": {
                "errors": [{"domain": "global", "reason": "deleted"}],
                "code": 410,
                "message": "Resource has been deleted",
            }
        },
    )

    assert await calendar.delete_event("tok", "primary", "evt1") is False


async def test_deleting_an_unknown_event_raises_not_found(calendar, upstream):
    upstream.reply(
        404,
        {
            "error": {
                "errors": [{"domain": "global", "reason": "notFound"}],
                "code": 404,
                "message": "Not Found",
            }
        },
    )

    with pytest.raises(ProviderNotFound):
        await calendar.delete_event("tok", "primary", "nope")


async def test_list_calendars_follows_page_tokens(calendar, upstream):
    upstream.reply(
        200,
        {
            "items": [
                {
                    "id": "ada@northwind.example",
                    "summary": "Ada",
                    "timeZone": "Europe/Berlin",
                    "accessRole": "owner",
                    "primary": True,
                }
            ],
            "nextPageToken": "p2",
        },
    )
    upstream.reply(
        200,
        {"items": [{"id": "team@group.calendar.google.com", "accessRole": "reader"}], "nextSyncToken": "s"},
    )

    entries = await calendar.list_calendars("tok", min_access_role="freeBusyReader")

    assert upstream.url(0) == f"{BASE}/users/me/calendarList"
    assert upstream.query(0) == {"maxResults": "250", "minAccessRole": "freeBusyReader"}
    assert upstream.query(1) == {"maxResults": "250", "minAccessRole": "freeBusyReader", "pageToken": "p2"}
    assert [(e.id, e.primary, e.access_role) for e in entries] == [
        ("ada@northwind.example", True, "owner"),
        ("team@group.calendar.google.com", False, "reader"),
    ]
    assert entries[0].time_zone == "Europe/Berlin"
