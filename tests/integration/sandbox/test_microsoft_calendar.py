"""Contract tests for Graph getSchedule, events and onlineMeetings over HTTP (shapes, limits, scopes, faults)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

CONTOSO = "11111111-1111-1111-1111-111111111111"
MEGAN, ADELE, ALEX = (f"aaaaaaaa-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
PT = "Pacific Standard Time"
ALL_APP = ["Calendars.ReadBasic.All", "Calendars.ReadWrite", "OnlineMeetings.ReadWrite.All"]


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["microsoft"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


async def graph(sbx: SandboxHandle, admin: SandboxAdmin, scopes: list[str], user: str | None = None) -> httpx.AsyncClient:
    """A Graph client with an app token (``user=None``) or a delegated token for ``user`` (object id)."""
    email = {MEGAN: "megan@contoso.example", ADELE: "adele@contoso.example"}.get(user or "")
    tok = await admin.issue_token("microsoft", client_id="rendezvous-ms-client", scopes=scopes, subject=user,
                                  email=email, tenant=CONTOSO)  # fmt: skip
    return sbx.client("graph.microsoft.com/v1.0", tok)


def window(start: str, end: str, tz: str = PT, schedules: list[str] | None = None, interval: int = 60) -> dict[str, Any]:
    return {"schedules": schedules or ["adele@contoso.example"], "availabilityViewInterval": interval,
            "startTime": {"dateTime": start, "timeZone": tz}, "endTime": {"dateTime": end, "timeZone": tz}}  # fmt: skip


def assert_graph_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert {"date", "request-id", "client-request-id"} <= set(error["innerError"])
    return dict(error)


async def schedule(client: httpx.AsyncClient, body: dict[str, Any], tz: str | None = PT,
                   path: str = f"/users/{MEGAN}/calendar/getSchedule") -> httpx.Response:  # fmt: skip
    headers = {"Prefer": f'outlook.timezone="{tz}"'} if tz else {}
    return await client.post(path, json=body, headers=headers)


# ------------------------------------------------------------------------------------------ getSchedule
async def test_get_schedule_shape_statuses_and_availability_view(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        response = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00"))
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == f'outlook.timezone="{PT}"'
    body = response.json()
    assert body["@odata.context"].endswith("#Collection(microsoft.graph.scheduleInformation)")
    info = body["value"][0]
    assert info["scheduleId"] == "adele@contoso.example"
    view = info["availabilityView"]
    assert len(view) == 24 and view[9] == "2" and view[13] == "1" and view[15] == "0" and view[0] == "0"
    items = [(i["subject"], i["status"], i["start"]["dateTime"], i["start"]["timeZone"]) for i in info["scheduleItems"]]
    assert ("Design review", "busy", "2026-10-05T09:00:00.0000000", PT) in items
    assert ("Team standup", "busy", "2026-10-05T09:30:00.0000000", PT) in items  # weekly series, expanded
    assert ("1:1 with Megan", "tentative", "2026-10-05T13:00:00.0000000", PT) in items
    assert ("Focus time", "free", "2026-10-05T15:00:00.0000000", PT) in items
    hours = info["workingHours"]
    assert hours["daysOfWeek"][0] == "monday" and hours["startTime"] == "09:00:00.0000000"
    assert hours["timeZone"] == {"name": PT}


async def test_all_day_oof_working_elsewhere_private_and_cancelled(sbx, admin):
    async with await graph(sbx, admin, ["Calendars.ReadBasic.All"]) as g:
        response = await schedule(g, window("2026-10-06T00:00:00", "2026-10-10T00:00:00", interval=1440))
    info = response.json()["value"][0]
    assert info["availabilityView"] == "4223"  # workingElsewhere, busy (private), planning (accepted), oof
    subjects = [i.get("subject") for i in info["scheduleItems"]]
    assert "Cancelled sync" not in subjects
    private = next(i for i in info["scheduleItems"] if i["isPrivate"])
    assert "subject" not in private and private["status"] == "busy"
    oof = next(i for i in info["scheduleItems"] if i["status"] == "oof")
    assert oof["start"]["dateTime"] == "2026-10-09T00:00:00.0000000" and oof["end"]["dateTime"] == "2026-10-10T00:00:00.0000000"


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [(None, "2026-10-05T16:00:00.0000000"), ("W. Europe Standard Time", "2026-10-05T18:00:00.0000000"),
     ("GMT Standard Time", "2026-10-05T17:00:00.0000000"), ("Eastern Standard Time", "2026-10-05T12:00:00.0000000"),
     ("Asia/Tokyo", "2026-10-06T01:00:00.0000000"), ("UTC", "2026-10-05T16:00:00.0000000")],
)  # fmt: skip
async def test_prefer_outlook_timezone_sets_returned_times(sbx, admin, prefer, expected):
    async with await graph(sbx, admin, ALL_APP) as g:
        response = await schedule(g, window("2026-10-05T08:00:00", "2026-10-05T12:00:00"), tz=prefer)
    first = response.json()["value"][0]["scheduleItems"][0]
    assert first["subject"] == "Design review"
    assert first["start"] == {"dateTime": expected, "timeZone": prefer or "UTC"}


async def test_attendees_and_rooms_show_invitations_declines_do_not(sbx, admin):
    body = window("2026-10-06T00:00:00", "2026-10-09T00:00:00", interval=1440,
                  schedules=["isaiah@contoso.example", "room-orion@contoso.example", "alex@contoso.example"])  # fmt: skip
    async with await graph(sbx, admin, ALL_APP) as g:
        value = (await schedule(g, body)).json()["value"]
    isaiah, room, alex = value
    assert [i["status"] for i in isaiah["scheduleItems"]] == ["tentative"]
    assert [i["status"] for i in room["scheduleItems"]] == ["busy"]
    assert all(i["subject"] != "Budget" for i in alex["scheduleItems"])


async def test_an_app_token_may_ask_through_a_room_mailbox_which_is_a_user_object_in_entra(sbx, admin):
    body = window("2026-10-05T00:00:00", "2026-10-06T00:00:00", tz="UTC", schedules=["room-vega@contoso.example"])
    async with await graph(sbx, admin, ALL_APP) as g:
        through_room = await schedule(g, body, tz="UTC", path="/users/room-vega@contoso.example/calendar/getSchedule")
        ghost = await schedule(g, body, path="/users/room-ghost@contoso.example/calendar/getSchedule")
    async with await graph(sbx, admin, ["User.Read.All"]) as g:
        unpermitted = await schedule(g, body, path="/users/room-vega@contoso.example/calendar/getSchedule")
    assert through_room.status_code == 200, through_room.text
    [room] = through_room.json()["value"]
    assert [(i["status"], i["start"]["dateTime"][:19]) for i in room["scheduleItems"]] == [
        ("busy", "2026-10-05T14:00:00")]
    assert_graph_error(ghost, 404, "ErrorInvalidUser")
    assert_graph_error(unpermitted, 403, "ErrorAccessDenied")


async def test_unknown_mailbox_and_calendar_fault_are_errors_inside_200(sbx, admin):
    await admin.add_fault(calendar="alex@contoso.example", provider="microsoft", kind="status", status=503)
    body = window("2026-10-05T00:00:00", "2026-10-06T00:00:00",
                  schedules=["adele@contoso.example", "nobody@contoso.example", "alex@contoso.example"])  # fmt: skip
    async with await graph(sbx, admin, ALL_APP) as g:
        response = await schedule(g, body)
    assert response.status_code == 200
    ok, unknown, faulted = response.json()["value"]
    assert "error" not in ok
    assert unknown["error"]["responseCode"] == "ErrorMailRecipientNotFound" and unknown["availabilityView"] == ""
    assert faulted["error"]["responseCode"] == "ErrorInternalServerTransientError" and faulted["error"]["message"]


async def test_get_schedule_limits(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        too_many = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00",
                                            schedules=[f"u{i}@contoso.example" for i in range(21)]))  # fmt: skip
        assert_graph_error(too_many, 400, "ErrorMailboxDataArrayTooBig")
        twenty = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00",
                                          schedules=[f"u{i}@contoso.example" for i in range(20)]))  # fmt: skip
        assert twenty.status_code == 200 and len(twenty.json()["value"]) == 20
        long = await schedule(g, window("2026-10-01T00:00:00", "2026-12-02T00:00:00", tz="UTC"))
        assert_graph_error(long, 400, "ErrorTimeIntervalTooBig")
        just_under = await schedule(g, window("2026-10-01T00:00:00", "2026-12-01T23:00:00", tz="UTC"))
        assert just_under.status_code == 200
        inverted = await schedule(g, window("2026-10-02T00:00:00", "2026-10-01T00:00:00"))
        assert_graph_error(inverted, 400, "ErrorInvalidTimeInterval")
        interval = await schedule(g, window("2026-10-01T00:00:00", "2026-10-02T00:00:00", interval=2))
        assert_graph_error(interval, 400, "ErrorInvalidParameter")
        bad_zone = await schedule(g, window("2026-10-01T00:00:00", "2026-10-02T00:00:00", tz="Mars Standard Time"))
        assert_graph_error(bad_zone, 400, "ErrorInvalidParameter")


async def test_get_schedule_scopes(sbx, admin):
    async with await graph(sbx, admin, ["User.Read.All"]) as g:
        assert_graph_error(await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00")), 403, "ErrorAccessDenied")
    async with await graph(sbx, admin, ["Calendars.ReadBasic"], user=ADELE) as g:
        own = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00"), path="/me/calendar/getSchedule")
        assert own.status_code == 200
        other = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00"))
        assert_graph_error(other, 403, "ErrorAccessDenied")
    async with await graph(sbx, admin, ALL_APP) as g:
        me = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00"), path="/me/calendar/getSchedule")
        assert_graph_error(me, 400, "BadRequest")


async def test_get_schedule_route_faults_429_and_503(sbx, admin):
    await admin.add_fault(route="microsoft.getSchedule", kind="status", status=429, retry_after=7)
    await admin.add_fault(route="microsoft.getSchedule", kind="status", status=503)
    async with await graph(sbx, admin, ALL_APP) as g:
        body = window("2026-10-05T00:00:00", "2026-10-06T00:00:00")
        throttled = await schedule(g, body)
        assert_graph_error(throttled, 429, "TooManyRequests")
        assert throttled.headers["Retry-After"] == "7"
        assert_graph_error(await schedule(g, body), 503, "ServiceUnavailable")
        assert (await schedule(g, body)).status_code == 200


async def test_bearer_problems_are_invalid_authentication_token(sbx, admin):
    client = sbx.client("graph.microsoft.com/v1.0")
    async with client:
        assert_graph_error(await schedule(client, window("2026-10-05T00:00:00", "2026-10-06T00:00:00")), 401,
                           "InvalidAuthenticationToken")  # fmt: skip
    tok = await admin.issue_token("microsoft", scopes=ALL_APP, tenant=CONTOSO)
    await admin.expire_token(tok)
    async with sbx.client("graph.microsoft.com/v1.0", tok) as g:
        response = await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00"))
        assert_graph_error(response, 401, "InvalidAuthenticationToken")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    revoked = await admin.issue_token("microsoft", scopes=ALL_APP, tenant=CONTOSO)
    await admin.add_fault(route="microsoft.getSchedule", kind="revoke")
    async with sbx.client("graph.microsoft.com/v1.0", revoked) as g:
        assert_graph_error(await schedule(g, window("2026-10-05T00:00:00", "2026-10-06T00:00:00")), 401,
                           "InvalidAuthenticationToken")  # fmt: skip


# --------------------------------------------------------------------------------------------- events
EVENT = {
    "subject": "Sync", "body": {"contentType": "HTML", "content": "<p>Agenda</p>"},
    "start": {"dateTime": "2026-10-12T10:00:00", "timeZone": PT}, "end": {"dateTime": "2026-10-12T10:30:00", "timeZone": PT},
    "location": {"displayName": "Vega", "locationEmailAddress": "room-vega@contoso.example"},
    "attendees": [{"emailAddress": {"address": "alex@contoso.example", "name": "Alex"}, "type": "required"},
                  {"emailAddress": {"address": "room-vega@contoso.example"}, "type": "resource"}],
    "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness", "transactionId": "tx-0001",
}  # fmt: skip


async def test_create_event_shape_and_teams_link(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        response = await g.post(f"/users/{ADELE}/events", json=EVENT)
    assert response.status_code == 201
    event = response.json()
    assert event["id"].startswith("AAMk") and event["iCalUId"].startswith("040000008200E000")
    assert event["webLink"].startswith("https://outlook.office365.com/owa/?itemid=")
    assert event["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")
    assert event["isOnlineMeeting"] is True and event["onlineMeetingUrl"] is None
    assert event["start"] == {"dateTime": "2026-10-12T17:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == PT
    assert all(a["status"] == {"response": "none", "time": "0001-01-01T00:00:00Z"} for a in event["attendees"])
    assert event["organizer"]["emailAddress"]["address"] == "adele@contoso.example"
    assert event["transactionId"] == "tx-0001" and event["bodyPreview"] == "Agenda"


async def test_transaction_id_makes_create_idempotent(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        first = await g.post(f"/users/{ADELE}/events", json=EVENT)
        second = await g.post("/users/adele@contoso.example/calendar/events", json=EVENT)
    assert second.status_code == 201 and first.json()["id"] == second.json()["id"]
    assert len((await admin.created("microsoft"))["events"]) == 1


async def test_created_event_is_busy_for_organizer_tentative_for_attendees(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        await g.post(f"/users/{ADELE}/events", json=EVENT)
        body = window("2026-10-12T10:00:00", "2026-10-12T10:30:00", interval=30,
                      schedules=["adele@contoso.example", "alex@contoso.example", "room-vega@contoso.example"])  # fmt: skip
        views = [v["availabilityView"] for v in (await schedule(g, body)).json()["value"]]
    assert views == ["2", "1", "2"]


async def test_patch_then_delete_then_404(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        event = (await g.post(f"/users/{ADELE}/events", json=EVENT)).json()
        url = f"/users/{ADELE}/events/{event['id']}"
        patched = await g.patch(url, json={"subject": "Moved", "start": {"dateTime": "2026-10-12T11:00:00", "timeZone": PT},
                                           "end": {"dateTime": "2026-10-12T11:30:00", "timeZone": PT}},
                                headers={"Prefer": f'outlook.timezone="{PT}"'})  # fmt: skip
        assert patched.status_code == 200
        assert patched.json()["subject"] == "Moved" and patched.json()["iCalUId"] == event["iCalUId"]
        assert patched.json()["start"]["dateTime"] == "2026-10-12T11:00:00.0000000"
        assert patched.json()["onlineMeeting"] == event["onlineMeeting"]
        views = (await schedule(g, window("2026-10-12T10:00:00", "2026-10-12T12:00:00"))).json()["value"]
        assert views[0]["availabilityView"] == "02"
        deleted = await g.delete(url)
        assert deleted.status_code == 204 and deleted.content == b""
        for response in (await g.delete(url), await g.patch(url, json={"subject": "x"}), await g.get(url)):
            assert_graph_error(response, 404, "ErrorItemNotFound")
        views = (await schedule(g, window("2026-10-12T10:00:00", "2026-10-12T12:00:00"))).json()["value"]
        assert views[0]["availabilityView"] == "00"


async def test_event_of_another_mailbox_is_not_found(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        event = (await g.post(f"/users/{ADELE}/events", json=EVENT)).json()
        assert_graph_error(await g.get(f"/users/{ALEX}/events/{event['id']}"), 404, "ErrorItemNotFound")
        assert_graph_error(await g.post("/users/ghost@contoso.example/events", json=EVENT), 404, "ErrorInvalidUser")
        bad = await g.post(f"/users/{ADELE}/events", json={"subject": "no times"})
        assert_graph_error(bad, 400, "ErrorInvalidRequest")
        assert_graph_error(await g.post(f"/users/{ADELE}/events", content=b"{nope"), 400, "BadRequest")


async def test_event_write_scopes(sbx, admin):
    async with await graph(sbx, admin, ["Calendars.ReadBasic.All"]) as g:
        assert_graph_error(await g.post(f"/users/{ADELE}/events", json=EVENT), 403, "ErrorAccessDenied")
    async with await graph(sbx, admin, ["Calendars.ReadWrite"], user=ADELE) as g:
        assert (await g.post("/me/events", json=EVENT)).status_code == 201
        assert_graph_error(await g.post(f"/users/{MEGAN}/events", json=EVENT), 403, "ErrorAccessDenied")
    async with await graph(sbx, admin, ["Calendars.ReadWrite.All"], user=MEGAN) as g:
        assert (await g.post(f"/users/{ADELE}/events", json={**EVENT, "transactionId": "other"})).status_code == 201


# ------------------------------------------------------------------------------------- onlineMeetings
MEETING = {"subject": "Standalone", "startDateTime": "2026-10-12T10:00:00Z", "endDateTime": "2026-10-12T10:30:00Z"}


async def test_online_meeting_app_only_needs_object_id_and_policy(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        created = await g.post(f"/users/{ADELE}/onlineMeetings", json=MEETING)
        assert created.status_code == 201
        meeting = created.json()
        assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")
        assert meeting["participants"]["organizer"]["identity"]["user"]["id"] == ADELE
        assert meeting["startDateTime"] == "2026-10-12T10:00:00.000Z" and meeting["chatInfo"]["threadId"]
        assert_graph_error(await g.post("/users/adele@contoso.example/onlineMeetings", json=MEETING), 400, "BadRequest")
    await admin.seed("microsoft", {"tenants": [{"id": CONTOSO, "application_access_policy": []}]})
    async with await graph(sbx, admin, ALL_APP) as g:
        denied = await g.post(f"/users/{ADELE}/onlineMeetings", json=MEETING)
        assert assert_graph_error(denied, 403, "Forbidden")["message"] == "No Application Access Policy found for this app"
    assert len((await admin.created("microsoft"))["onlineMeetings"]) == 1


async def test_online_meeting_scopes_and_delegated_self(sbx, admin):
    async with await graph(sbx, admin, ["Calendars.ReadWrite"]) as g:
        assert_graph_error(await g.post(f"/users/{ADELE}/onlineMeetings", json=MEETING), 403, "ErrorAccessDenied")
    async with await graph(sbx, admin, ["OnlineMeetings.ReadWrite"], user=ADELE) as g:
        assert (await g.post("/me/onlineMeetings", json=MEETING)).status_code == 201
        assert_graph_error(await g.post(f"/users/{MEGAN}/onlineMeetings", json=MEETING), 403, "Forbidden")


async def test_online_meeting_get_patch_delete(sbx, admin):
    async with await graph(sbx, admin, ALL_APP) as g:
        created = (await g.post(f"/users/{ADELE}/onlineMeetings", json=MEETING)).json()
        path = f"/users/{ADELE}/onlineMeetings/{created['id']}"
        assert (await g.get(path)).json()["joinWebUrl"] == created["joinWebUrl"]
        moved = await g.patch(path, json={"startDateTime": "2026-10-13T08:00:00+02:00",
                                          "endDateTime": "2026-10-13T08:45:00+02:00", "subject": "Moved"})
        assert moved.status_code == 200
        body = moved.json()
        assert (body["id"], body["joinWebUrl"], body["subject"]) == (created["id"], created["joinWebUrl"], "Moved")
        assert (body["startDateTime"], body["endDateTime"]) == ("2026-10-13T06:00:00.000Z", "2026-10-13T06:45:00.000Z")
        assert (await g.patch(path, json={"subject": "Renamed"})).json()["startDateTime"] == "2026-10-13T06:00:00.000Z"
        assert_graph_error(await g.patch(path, json={"startDateTime": "2026-10-13T09:00:00Z"}), 400, "BadRequest")
        assert_graph_error(await g.get(f"/users/{MEGAN}/onlineMeetings/{created['id']}"), 404, "NotFound")
        assert (await g.delete(path)).status_code == 204
        assert_graph_error(await g.get(path), 404, "NotFound")
        assert_graph_error(await g.patch(path, json={"subject": "x"}), 404, "NotFound")
        assert_graph_error(await g.delete(path), 404, "NotFound")
    listed = (await admin.created("microsoft"))["onlineMeetings"]
    assert [(m["id"], m["_deleted"]) for m in listed] == [(created["id"], True)]


async def test_online_meeting_changes_need_the_permission_the_policy_and_the_organizer(sbx, admin):
    async with await graph(sbx, admin, ["OnlineMeetings.ReadWrite"], user=ADELE) as g:
        created = (await g.post("/me/onlineMeetings", json=MEETING)).json()
        assert (await g.patch(f"/me/onlineMeetings/{created['id']}", json={"subject": "Mine"})).status_code == 200
        assert_graph_error(await g.delete(f"/users/{MEGAN}/onlineMeetings/{created['id']}"), 403, "Forbidden")
    path = f"/users/{ADELE}/onlineMeetings/{created['id']}"
    async with await graph(sbx, admin, ["Calendars.ReadWrite"]) as g:
        assert_graph_error(await g.patch(path, json={"subject": "x"}), 403, "ErrorAccessDenied")
    async with await graph(sbx, admin, ALL_APP) as g:
        assert_graph_error(await g.delete(f"/users/adele@contoso.example/onlineMeetings/{created['id']}"), 400, "BadRequest")
    await admin.seed("microsoft", {"tenants": [{"id": CONTOSO, "application_access_policy": []}]})
    async with await graph(sbx, admin, ALL_APP) as g:
        assert_graph_error(await g.delete(path), 403, "Forbidden")
