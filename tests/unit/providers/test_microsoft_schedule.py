"""Graph getSchedule: chunks of 20, windows under 62 days, per-schedule errors, UTC throughout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from providers import ProviderPermissionError
from providers.microsoft import GraphCalendar, ScheduleError, ScheduleItem, ScheduleStatus, schedule_windows

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2026, 3, 15, 9, tzinfo=UTC)
END = datetime(2026, 3, 15, 18, tzinfo=UTC)


@pytest.fixture
def calendar(http, endpoints):
    return GraphCalendar(http, endpoints)


def item(status, start, end):
    return {
        "isPrivate": False,
        "status": status,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    }


def empty_answers(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(
        200, json={"value": [{"scheduleId": s, "scheduleItems": []} for s in body["schedules"]]}
    )


async def test_get_schedule_sends_utc_and_reads_items_and_errors(calendar, upstream):
    upstream.reply(
        200,
        {
            "value": [
                {
                    "scheduleId": "adelev@contoso.example",
                    "availabilityView": "000220000",
                    "scheduleItems": [
                        item("Busy", "2026-03-15T12:00:00.0000000", "2026-03-15T14:00:00.0000000"),
                        item("tentative", "2026-03-15T10:00:00.0000000", "2026-03-15T10:30:00.0000000"),
                        item(
                            "workingElsewhere", "2026-03-15T15:00:00.0000000", "2026-03-15T16:00:00.0000000"
                        ),
                        item("OOF", "2026-03-15T16:00:00.0000000", "2026-03-15T17:00:00.0000000"),
                        item("somethingNew", "2026-03-15T17:00:00.0000000", "2026-03-15T17:30:00.0000000"),
                    ],
                },
                {
                    "scheduleId": "nobody@contoso.example",
                    "availabilityView": "",
                    "error": {"message": "not found", "responseCode": "ErrorMailRecipientNotFound"},
                },
            ]
        },
    )

    result = await calendar.get_schedule(
        "tok",
        "megan@contoso.example",
        ["adelev@contoso.example", "nobody@contoso.example"],
        START,
        END,
        interval=60,
    )

    request = upstream.last
    assert (request.method, upstream.url()) == (
        "POST",
        f"{GRAPH}/users/megan@contoso.example/calendar/getSchedule",
    )
    assert request.headers["prefer"] == 'outlook.timezone="UTC"'
    assert request.headers["authorization"] == "Bearer tok"
    assert upstream.json() == {
        "schedules": ["adelev@contoso.example", "nobody@contoso.example"],
        "startTime": {"dateTime": "2026-03-15T09:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2026-03-15T18:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 60,
    }
    adele = result["adelev@contoso.example"]
    assert adele.ok
    assert [(i.start.hour, i.start.minute, i.status) for i in adele.items] == [
        (10, 0, ScheduleStatus.TENTATIVE),
        (12, 0, ScheduleStatus.BUSY),
        (15, 0, ScheduleStatus.WORKING_ELSEWHERE),
        (16, 0, ScheduleStatus.OOF),
        (17, 0, ScheduleStatus.UNKNOWN),
    ]
    assert adele.items[1] == ScheduleItem(
        datetime(2026, 3, 15, 12, tzinfo=UTC), datetime(2026, 3, 15, 14, tzinfo=UTC), ScheduleStatus.BUSY
    )
    nobody = result["nobody@contoso.example"]
    assert not nobody.ok and nobody.error == ScheduleError("ErrorMailRecipientNotFound", "not found")


async def test_45_schedules_go_out_as_three_calls_of_at_most_20(calendar, upstream):
    schedules = [f"user{i}@contoso.example" for i in range(45)]
    upstream.handler = empty_answers

    result = await calendar.get_schedule("tok", "megan@contoso.example", schedules, START, END)

    sizes = sorted(len(upstream.json(i)["schedules"]) for i in range(len(upstream.requests)))
    assert sizes == [5, 20, 20]
    assert list(result) == schedules and all(r.ok for r in result.values())


async def test_a_70_day_window_is_split_into_windows_under_62_days(calendar, upstream):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=70)
    boundary = start + timedelta(days=61)
    spanning = item("busy", "2026-03-02T23:00:00.0000000", "2026-03-03T01:00:00.0000000")

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        items = [spanning] + (
            [item("busy", "2026-01-05T10:00:00", "2026-01-05T11:00:00")]
            if body["startTime"]["dateTime"].startswith("2026-01-01")
            else []
        )
        return httpx.Response(
            200, json={"value": [{"scheduleId": "a@contoso.example", "scheduleItems": items}]}
        )

    upstream.handler = answer

    result = await calendar.get_schedule("tok", "megan@contoso.example", ["a@contoso.example"], start, end)

    windows = sorted(
        (upstream.json(i)["startTime"]["dateTime"], upstream.json(i)["endTime"]["dateTime"]) for i in range(2)
    )
    assert windows == [
        ("2026-01-01T00:00:00", "2026-03-03T00:00:00"),
        ("2026-03-03T00:00:00", "2026-03-12T00:00:00"),
    ]
    assert len(upstream.requests) == 2
    assert boundary == datetime(2026, 3, 3, tzinfo=UTC)
    # the item reported by both windows is kept once
    assert len(result["a@contoso.example"].items) == 2


def test_schedule_windows_leave_a_short_window_alone():
    assert schedule_windows(START, END) == [(START, END)]
    long = schedule_windows(START, START + timedelta(days=130))
    assert len(long) == 3 and all(b - a < timedelta(days=62) for a, b in long)


async def test_a_call_that_stays_throttled_marks_its_schedules_and_spares_the_others(calendar, upstream):
    schedules = [f"user{i}@contoso.example" for i in range(25)]

    def answer(request: httpx.Request) -> httpx.Response:
        if len(json.loads(request.content)["schedules"]) == 5:
            return httpx.Response(
                429, json={"error": {"code": "TooManyRequests", "message": "x"}}, headers={"Retry-After": "1"}
            )
        return empty_answers(request)

    upstream.handler = answer

    result = await calendar.get_schedule("tok", "megan@contoso.example", schedules, START, END)

    assert [s for s, r in result.items() if not r.ok] == schedules[20:]
    assert (
        result[schedules[24]].error is not None and result[schedules[24]].error.code == "providerRateLimited"
    )
    assert upstream.sleeps == [1.0, 1.0, 1.0]


async def test_a_missing_permission_raises(calendar, upstream):
    upstream.reply(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}})

    with pytest.raises(ProviderPermissionError):
        await calendar.get_schedule("tok", "m@contoso.example", ["a@contoso.example"], START, END)


async def test_schedule_ids_match_case_insensitively_and_unreturned_ones_are_errors(calendar, upstream):
    upstream.reply(200, {"value": [{"scheduleId": "ADELEV@contoso.example", "scheduleItems": []}]})

    result = await calendar.get_schedule(
        "tok", "m@contoso.example", ["adelev@contoso.example", "x@contoso.example"], START, END
    )

    assert result["adelev@contoso.example"].ok
    assert result["x@contoso.example"].error == ScheduleError("notReturned")
