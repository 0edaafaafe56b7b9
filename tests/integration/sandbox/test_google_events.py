"""Calendar events (insert/get/patch/update/delete) and calendarList paging, over HTTP."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

S = "https://www.googleapis.com/auth/"
ADA, ADA_ID = "ada@northwind.example", "103400000000000000001"
ALAN, GRACE = "alan@northwind.example", "grace@northwind.example"
ORION = "room-orion@resource.calendar.google.com"
EVENT = {
    "summary": "Booking",
    "start": {"dateTime": "2026-11-03T10:00:00Z"},
    "end": {"dateTime": "2026-11-03T10:30:00Z"},
    "attendees": [{"email": ALAN}, {"email": ORION, "resource": True}],
}
MEET = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


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
    token = await admin.issue_token("google", scopes=[S + "calendar"], subject=ADA_ID, email=ADA)
    async with sbx.client("www.googleapis.com/calendar/v3", token) as client:
        yield client


async def insert(api: httpx.AsyncClient, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    response = await api.post("/calendars/primary/events", json=body or EVENT, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def busy(api: httpx.AsyncClient, cal: str) -> list[dict[str, str]]:
    body = {"timeMin": "2026-11-03T00:00:00Z", "timeMax": "2026-11-04T00:00:00Z", "items": [{"id": cal}]}
    result: list[dict[str, str]] = (await api.post("/freeBusy", json=body)).json()["calendars"][cal]["busy"]
    return result


async def test_insert_returns_the_event_with_server_fields(api: httpx.AsyncClient) -> None:
    event = await insert(api, sendUpdates="all")
    assert event["kind"] == "calendar#event" and event["status"] == "confirmed"
    assert event["iCalUID"] == f"{event['id']}@google.com"
    assert event["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert event["organizer"] == {"email": ADA, "self": True} and event["creator"] == {
        "email": ADA,
        "self": True,
    }
    assert event["attendees"][1] == {"email": ORION, "resource": True, "responseStatus": "needsAction"}
    assert event["etag"].startswith('"') and "conferenceData" not in event and "hangoutLink" not in event


async def test_insert_makes_organizer_and_invitees_busy(api: httpx.AsyncClient) -> None:
    assert await busy(api, ALAN) == []
    await insert(api)
    expected = [{"start": "2026-11-03T10:00:00Z", "end": "2026-11-03T10:30:00Z"}]
    assert (
        await busy(api, ADA) == expected
        and await busy(api, ALAN) == expected
        and await busy(api, ORION) == expected
    )


async def test_meet_is_created_only_with_conference_data_version_1(api: httpx.AsyncClient) -> None:
    ignored = await insert(api, {**EVENT, "conferenceData": MEET})
    assert "conferenceData" not in ignored and "hangoutLink" not in ignored
    event = await insert(api, {**EVENT, "conferenceData": MEET}, conferenceDataVersion=1)
    conference = event["conferenceData"]
    assert conference["createRequest"]["status"] == {"statusCode": "success"}
    assert conference["conferenceSolution"]["key"] == {"type": "hangoutsMeet"}
    video = conference["entryPoints"][0]
    assert video["entryPointType"] == "video" and video["uri"] == event["hangoutLink"]
    code = conference["conferenceId"]
    assert video["uri"] == f"https://meet.google.com/{code}" and [len(p) for p in code.split("-")] == [
        3,
        4,
        3,
    ]


async def test_same_request_id_gives_the_same_conference(api: httpx.AsyncClient) -> None:
    first = await insert(api, {**EVENT, "conferenceData": MEET}, conferenceDataVersion=1)
    second = await insert(api, {**EVENT, "conferenceData": MEET}, conferenceDataVersion=1)
    assert first["id"] != second["id"] and first["hangoutLink"] == second["hangoutLink"]
    other = {"createRequest": {"requestId": "req-2", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    patched = await api.patch(
        f"/calendars/primary/events/{first['id']}",
        params={"conferenceDataVersion": 1},
        json={"conferenceData": MEET},
    )
    assert patched.json()["hangoutLink"] == first["hangoutLink"], "repeating the request id is ignored"
    third = await insert(api, {**EVENT, "conferenceData": other}, conferenceDataVersion=1)
    assert third["hangoutLink"] != first["hangoutLink"]
    bad = await api.post(
        "/calendars/primary/events", params={"conferenceDataVersion": 1},
        json={**EVENT, "conferenceData": {"createRequest": {"requestId": "x", "conferenceSolutionKey": {"type": "zoom"}}}},
    )  # fmt: skip
    assert bad.status_code == 400


async def test_client_ids_are_validated_and_duplicates_conflict(api: httpx.AsyncClient) -> None:
    event = await insert(api, {**EVENT, "id": "bookingabc123"})
    assert event["id"] == "bookingabc123"
    duplicate = await api.post("/calendars/primary/events", json={**EVENT, "id": "bookingabc123"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["errors"][0]["reason"] == "duplicate"
    invalid = await api.post("/calendars/primary/events", json={**EVENT, "id": "Not_Base32"})
    assert invalid.status_code == 400 and invalid.json()["error"]["errors"][0]["reason"] == "invalid"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"end": None}, "required"),
        ({"start": {"dateTime": "2026-11-03T10:00:00"}}, "invalid"),
        ({"end": {"dateTime": "2026-11-03T09:00:00Z"}}, "timeRangeEmpty"),
        ({"end": {"date": "2026-11-04"}}, "invalid"),
        ({"attendees": [{"displayName": "no email"}]}, "required"),
    ],
)
async def test_insert_validation(api: httpx.AsyncClient, change: dict[str, Any], reason: str) -> None:
    body = {k: v for k, v in {**EVENT, **change}.items() if v is not None}
    response = await api.post("/calendars/primary/events", json=body)
    assert response.status_code == 400 and response.json()["error"]["errors"][0]["reason"] == reason


async def test_time_zone_and_all_day_events_are_accepted(api: httpx.AsyncClient) -> None:
    local = {
        "start": {"dateTime": "2026-11-03T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-11-03T11:00:00", "timeZone": "Europe/Berlin"},
    }
    await insert(api, local)
    await insert(api, {"start": {"date": "2026-11-05"}, "end": {"date": "2026-11-06"}})
    assert await busy(api, ADA) == [{"start": "2026-11-03T09:00:00Z", "end": "2026-11-03T10:00:00Z"}]


async def test_get_patch_update_and_delete_then_gone(api: httpx.AsyncClient, admin: SandboxAdmin) -> None:
    event = await insert(api, sendUpdates="all")
    path = f"/calendars/primary/events/{event['id']}"
    assert (await api.get(path)).json()["summary"] == "Booking"
    assert (await api.get(f"/calendars/{ADA}/events/{event['id']}")).status_code == 200
    patched = (
        await api.patch(
            path,
            params={"sendUpdates": "none"},
            json={"summary": "Moved", "end": {"dateTime": "2026-11-03T11:00:00Z"}},
        )
    ).json()
    assert patched["summary"] == "Moved" and patched["sequence"] == 1 and patched["etag"] != event["etag"]
    assert patched["attendees"] == event["attendees"], "patch leaves untouched fields alone"
    stale = await api.patch(path, json={"summary": "x"}, headers={"If-Match": event["etag"]})
    assert stale.status_code == 412
    replaced = (
        await api.put(path, json={"start": EVENT["start"], "end": EVENT["end"], "summary": "Replaced"})
    ).json()
    assert replaced["summary"] == "Replaced" and "attendees" not in replaced
    assert await busy(api, ALAN) == [], "the invitee dropped by the update is free again"
    deleted = await api.delete(path, params={"sendUpdates": "all"})
    assert deleted.status_code == 204 and deleted.content == b""
    again = await api.delete(path)
    assert again.status_code == 410 and again.json()["error"]["errors"][0]["reason"] == "deleted"
    assert (await api.patch(path, json={"summary": "x"})).status_code == 410
    assert (await api.get(path)).json()["status"] == "cancelled"
    assert await busy(api, ADA) == []
    created = (await admin.created("google"))["events"]
    assert len(created) == 1 and created[0]["deleted"] is True
    assert [(h["op"], h["sendUpdates"]) for h in created[0]["history"]] == [
        ("insert", "all"), ("patch", "none"), ("update", "false"), ("delete", "all"),
    ]  # fmt: skip


async def test_unknown_events_calendars_and_bad_send_updates(api: httpx.AsyncClient) -> None:
    assert (await api.get("/calendars/primary/events/nosuchevent")).status_code == 404
    assert (await api.delete("/calendars/primary/events/nosuchevent")).status_code == 404
    unknown = await api.post("/calendars/ghost@nowhere.example/events", json=EVENT)
    assert unknown.status_code == 404 and unknown.json()["error"]["errors"][0]["reason"] == "notFound"
    bad = await api.post("/calendars/primary/events", params={"sendUpdates": "everyone"}, json=EVENT)
    assert bad.status_code == 400


async def test_write_access_is_required_on_other_calendars(api: httpx.AsyncClient) -> None:
    readable = await api.get(f"/calendars/{GRACE}/events/gracebudget00001")
    assert readable.status_code == 200
    refused = await api.post(f"/calendars/{GRACE}/events", json=EVENT)
    assert (
        refused.status_code == 403 and refused.json()["error"]["errors"][0]["reason"] == "requiredAccessLevel"
    )
    hidden = await api.get(f"/calendars/{ALAN}/events/alanbiweekly0001")
    assert hidden.status_code == 404


async def test_invitees_can_read_the_invitation_in_their_calendar(
    sbx: SandboxHandle, admin: SandboxAdmin, api: httpx.AsyncClient
) -> None:
    event = await insert(api)
    token = await admin.issue_token(
        "google", scopes=[S + "calendar.readonly"], subject="103400000000000000003", email=ALAN
    )
    async with sbx.client("www.googleapis.com/calendar/v3", token) as alan:
        seen = await alan.get(f"/calendars/primary/events/{event['id']}")
    assert seen.status_code == 200 and seen.json()["organizer"]["email"] == ADA


async def test_calendar_list_pages_and_sync_tokens(api: httpx.AsyncClient) -> None:
    pages = []
    token = None
    while True:
        params = {"maxResults": 2, **({"pageToken": token} if token else {})}
        page = (await api.get("/users/me/calendarList", params=params)).json()
        pages.append(page)
        token = page.get("nextPageToken")
        if not token:
            break
    assert [len(p["items"]) for p in pages] == [2, 2]
    assert "nextSyncToken" not in pages[0] and "nextSyncToken" in pages[-1]
    first = pages[0]["items"][0]
    assert first["kind"] == "calendar#calendarListEntry" and first["id"] == ADA and first["primary"] is True
    assert first["accessRole"] == "owner" and first["timeZone"] == "Europe/London"
    assert [i["accessRole"] for i in pages[1]["items"]] == ["freeBusyReader", "freeBusyReader"]
    synced = (
        await api.get("/users/me/calendarList", params={"syncToken": pages[-1]["nextSyncToken"]})
    ).json()
    assert synced["items"] == [] and "nextSyncToken" in synced
    stale = await api.get("/users/me/calendarList", params={"syncToken": "CLnot-a-token"})
    assert stale.status_code == 410 and stale.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"
    readers = (await api.get("/users/me/calendarList", params={"minAccessRole": "reader"})).json()
    assert [i["id"] for i in readers["items"]] == [ADA, GRACE]
    capped = (await api.get("/users/me/calendarList", params={"maxResults": 1000})).json()
    assert len(capped["items"]) == 4
    assert (await api.get("/users/me/calendarList", params={"minAccessRole": "god"})).status_code == 400
