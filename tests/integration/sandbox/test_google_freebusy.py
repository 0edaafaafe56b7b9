"""Calendar ``POST /freeBusy`` against the demo fixture: busy semantics, limits, errors, faults."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

S = "https://www.googleapis.com/auth/"
ADA, GRACE, ALAN = "ada@northwind.example", "grace@northwind.example", "alan@northwind.example"
ORION = "room-orion@resource.calendar.google.com"
ADA_ID = "103400000000000000001"


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["google"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


@pytest.fixture
async def api(sbx: SandboxHandle, admin: SandboxAdmin) -> AsyncIterator[httpx.AsyncClient]:
    token = await admin.issue_token(
        "google", scopes=[S + "calendar.events.freebusy"], subject=ADA_ID, email=ADA
    )
    async with sbx.client("www.googleapis.com/calendar/v3", token) as client:
        yield client


async def query(api: httpx.AsyncClient, ids: list[str], lo: str, hi: str, **extra: Any) -> dict[str, Any]:
    response = await api.post(
        "/freeBusy", json={"timeMin": lo, "timeMax": hi, "items": [{"id": i} for i in ids], **extra}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def spans(result: dict[str, Any], cal: str) -> list[tuple[str, str]]:
    return [(b["start"], b["end"]) for b in result["calendars"][cal]["busy"]]


async def test_response_shape(api: httpx.AsyncClient) -> None:
    result = await query(api, [ADA], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert result["kind"] == "calendar#freeBusy"
    assert result["timeMin"] == "2026-10-01T00:00:00.000Z" and result["timeMax"] == "2026-10-02T00:00:00.000Z"
    assert set(result["calendars"]) == {ADA} and "groups" not in result


async def test_busy_includes_tentative_and_excludes_free_cancelled_declined_and_working_location(
    api: httpx.AsyncClient,
) -> None:
    result = await query(api, [ADA], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert spans(result, ADA) == [
        ("2026-10-01T13:00:00Z", "2026-10-01T14:00:00Z"),  # accepted meeting
        ("2026-10-01T15:00:00Z", "2026-10-01T15:30:00Z"),  # tentative
    ]


async def test_recurring_series_expands_with_exceptions_exdates_and_dst(api: httpx.AsyncClient) -> None:
    # Fri 2 Oct: that instance was cancelled by an exception; Mon 5 Oct: EXDATE; Fri 9 Oct: normal.
    result = await query(api, [ADA], "2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z")
    assert spans(result, ADA) == []
    result = await query(api, [ADA], "2026-10-05T00:00:00Z", "2026-10-06T00:00:00Z")
    assert spans(result, ADA) == []
    result = await query(api, [ADA], "2026-10-09T00:00:00Z", "2026-10-10T00:00:00Z")
    assert spans(result, ADA) == [("2026-10-09T08:30:00Z", "2026-10-09T08:45:00Z")]
    # after the UK leaves summer time the stand-up stays at 09:30 local
    result = await query(api, [ADA], "2026-10-26T00:00:00Z", "2026-10-27T00:00:00Z")
    assert spans(result, ADA) == [("2026-10-26T09:30:00Z", "2026-10-26T09:45:00Z")]


async def test_all_day_event_spans_the_day_in_the_calendar_zone_and_merges(api: httpx.AsyncClient) -> None:
    result = await query(api, [ADA], "2026-10-06T00:00:00Z", "2026-10-09T00:00:00Z")
    assert spans(result, ADA) == [("2026-10-06T23:00:00Z", "2026-10-07T23:00:00Z")]


async def test_out_of_office_blocks_time(api: httpx.AsyncClient) -> None:
    result = await query(api, [ADA], "2026-10-12T00:00:00Z", "2026-10-14T00:00:00Z")
    assert spans(result, ADA) == [("2026-10-12T00:00:00Z", "2026-10-13T23:00:00Z")]


async def test_daily_count_series_ends_and_merges_with_overlaps(api: httpx.AsyncClient) -> None:
    result = await query(api, [GRACE], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert spans(result, GRACE) == [
        ("2026-10-01T16:00:00Z", "2026-10-01T17:00:00Z"),
        ("2026-10-01T18:00:00Z", "2026-10-01T19:00:00Z"),
    ]
    last = await query(api, [GRACE], "2027-07-23T00:00:00Z", "2027-07-27T00:00:00Z")
    assert spans(last, GRACE) == [("2027-07-23T18:00:00Z", "2027-07-23T18:30:00Z")]


async def test_interval_series_invitations_and_resources(api: httpx.AsyncClient) -> None:
    result = await query(api, [ALAN, ORION], "2026-09-28T00:00:00Z", "2026-10-02T00:00:00Z")
    assert spans(result, ALAN) == [
        ("2026-09-29T09:00:00Z", "2026-09-29T10:00:00Z"),  # bi-weekly (BST)
        ("2026-10-01T13:00:00Z", "2026-10-01T14:00:00Z"),  # invited by Ada
    ]
    assert spans(result, ORION) == [
        ("2026-10-01T08:00:00Z", "2026-10-01T09:00:00Z"),
        ("2026-10-01T13:00:00Z", "2026-10-01T14:00:00Z"),
    ]


async def test_busy_is_clipped_to_the_window_and_given_in_the_requested_zone(api: httpx.AsyncClient) -> None:
    result = await query(
        api, [ADA], "2026-10-01T13:30:00Z", "2026-10-01T15:15:00Z", timeZone="America/New_York"
    )
    assert spans(result, ADA) == [
        ("2026-10-01T09:30:00-04:00", "2026-10-01T10:00:00-04:00"),
        ("2026-10-01T11:00:00-04:00", "2026-10-01T11:15:00-04:00"),
    ]


async def test_unknown_calendars_get_not_found_inside_a_200(api: httpx.AsyncClient) -> None:
    result = await query(
        api, ["ghost@elsewhere.example", ADA], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"
    )
    assert result["calendars"]["ghost@elsewhere.example"] == {
        "errors": [{"domain": "global", "reason": "notFound"}],
        "busy": [],
    }
    assert len(spans(result, ADA)) == 2


async def test_groups_expand_and_too_big_groups_report_an_error(
    sbx: SandboxHandle, admin: SandboxAdmin, api: httpx.AsyncClient
) -> None:
    result = await query(api, ["eng@northwind.example"], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert result["groups"]["eng@northwind.example"]["calendars"][:2] == [ADA, ALAN]
    assert ADA in result["calendars"] and "linus@northwind.example" in result["calendars"]
    result = await query(
        api, ["eng@northwind.example"], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", groupExpansionMax=3
    )
    assert result["groups"]["eng@northwind.example"] == {
        "errors": [{"domain": "global", "reason": "groupTooBig"}],
        "calendars": [],
    }


async def test_calendars_beyond_calendar_expansion_max_are_refused_one_by_one(api: httpx.AsyncClient) -> None:
    result = await query(
        api, [ADA, GRACE, ALAN], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", calendarExpansionMax=2
    )
    assert "busy" in result["calendars"][GRACE] and "errors" not in result["calendars"][GRACE]
    assert result["calendars"][ALAN]["errors"][0]["reason"] == "tooManyCalendarsRequested"


@pytest.mark.parametrize(
    ("body", "reason", "location"),
    [
        ({"timeMax": "2026-10-02T00:00:00Z"}, "required", "timeMin"),
        ({"timeMin": "2026-10-02T00:00:00Z"}, "required", "timeMax"),
        ({"timeMin": "2026-10-02T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z"}, "timeRangeEmpty", "timeMax"),
        ({"timeMin": "yesterday", "timeMax": "2026-10-02T00:00:00Z"}, "invalid", "timeMin"),
        ({"timeMin": "2026-10-01T00:00:00", "timeMax": "2026-10-02T00:00:00Z"}, "invalid", "timeMin"),
        (
            {
                "timeMin": "2026-10-01T00:00:00Z",
                "timeMax": "2026-10-02T00:00:00Z",
                "calendarExpansionMax": 51,
            },
            "invalid",
            "calendarExpansionMax",
        ),
        (
            {"timeMin": "2026-10-01T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z", "groupExpansionMax": 101},
            "invalid",
            "groupExpansionMax",
        ),
        (
            {"timeMin": "2026-10-01T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z", "timeZone": "Mars/Base"},
            "invalid",
            "timeZone",
        ),
        (
            {"timeMin": "2026-10-01T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z", "items": [{}]},
            "invalid",
            "items",
        ),
    ],
)
async def test_bad_requests_get_google_400s(
    api: httpx.AsyncClient, body: dict[str, Any], reason: str, location: str
) -> None:
    response = await api.post("/freeBusy", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["errors"][0]["reason"] == reason
    assert error["errors"][0]["location"] == location


async def test_malformed_json_is_a_parse_error(api: httpx.AsyncClient) -> None:
    response = await api.post("/freeBusy", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["errors"][0]["reason"] == "parseError"


async def test_per_calendar_faults_are_reported_inside_a_200(
    admin: SandboxAdmin, api: httpx.AsyncClient
) -> None:
    await admin.add_fault(calendar=GRACE, kind="status", status=500)
    await admin.add_fault(calendar=ALAN, kind="status", status=404)
    result = await query(api, [ADA, GRACE, ALAN], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert result["calendars"][GRACE] == {
        "errors": [{"domain": "global", "reason": "internalError"}],
        "busy": [],
    }
    assert result["calendars"][ALAN]["errors"][0]["reason"] == "notFound"
    assert len(spans(result, ADA)) == 2
    again = await query(api, [GRACE], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert "errors" not in again["calendars"][GRACE]


async def test_per_calendar_latency_and_revoke(admin: SandboxAdmin, api: httpx.AsyncClient) -> None:
    await admin.add_fault(calendar=GRACE, kind="latency", latency_ms=50)
    assert (
        "busy"
        in (await query(api, [GRACE], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"))["calendars"][GRACE]
    )
    await admin.add_fault(calendar=GRACE, kind="revoke")
    response = await api.post(
        "/freeBusy",
        json={"timeMin": "2026-10-01T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z", "items": [{"id": GRACE}]},
    )
    assert response.status_code == 401


async def test_calendar_freebusy_scope_only_sees_own_calendars(
    sbx: SandboxHandle, admin: SandboxAdmin
) -> None:
    token = await admin.issue_token("google", scopes=[S + "calendar.freebusy"], subject=ADA_ID, email=ADA)
    async with sbx.client("www.googleapis.com/calendar/v3", token) as api:
        result = await query(api, [ADA, GRACE], "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert "errors" not in result["calendars"][ADA]
    assert result["calendars"][GRACE]["errors"][0]["reason"] == "notFound"
