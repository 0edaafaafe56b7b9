"""Graph events, online meetings, users (+ delta), organization and rooms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from providers import ProviderResponseError, ProviderUnavailable
from providers.microsoft import GraphCalendar, GraphDirectory

GRAPH = "https://graph.microsoft.com/v1.0"
EVENT_BODY = {
    "subject": "Sync",
    "start": {"dateTime": "2026-03-15T10:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-03-15T10:30:00", "timeZone": "UTC"},
    "attendees": [{"emailAddress": {"address": "bob@contoso.example"}, "type": "required"}],
    "isOnlineMeeting": True,
    "onlineMeetingProvider": "teamsForBusiness",
}
EVENT = {
    "id": "AAMkAG",
    "iCalUId": "040000008200",
    "webLink": "https://outlook.office365.com/owa/?itemid=AAMkAG",
    "isOnlineMeeting": True,
    "onlineMeeting": {"joinUrl": "https://teams.microsoft.com/l/meetup-join/x"},
}


@pytest.fixture
def calendar(http, endpoints):
    return GraphCalendar(http, endpoints)


@pytest.fixture
def directory(http, endpoints):
    return GraphDirectory(http, endpoints)


async def test_create_event_posts_to_the_user_with_a_transaction_id_and_reads_the_teams_link(
    calendar, upstream
):
    upstream.reply(503, {"error": {"code": "ServiceNotAvailable", "message": "x"}})
    upstream.reply(201, EVENT)

    event = await calendar.create_event("tok", "oid-megan", EVENT_BODY, transaction_id="tx-7")

    assert [r.method for r in upstream.requests] == ["POST", "POST"]
    assert upstream.url() == f"{GRAPH}/users/oid-megan/events"
    assert upstream.last.headers["prefer"] == 'outlook.timezone="UTC"'
    assert upstream.json() == {**EVENT_BODY, "transactionId": "tx-7"}
    assert (event.id, event.ical_uid, event.join_url) == (
        "AAMkAG",
        "040000008200",
        "https://teams.microsoft.com/l/meetup-join/x",
    )


async def test_create_event_without_a_transaction_id_is_not_retried(calendar, upstream):
    upstream.reply(503, {"error": {"code": "ServiceNotAvailable", "message": "x"}})

    with pytest.raises(ProviderUnavailable):
        await calendar.create_event("tok", "oid-megan", EVENT_BODY)

    assert len(upstream.requests) == 1
    assert "transactionId" not in upstream.json()


async def test_patch_and_delete_event(calendar, upstream):
    upstream.reply(200, EVENT)
    upstream.reply(204)
    upstream.reply(404, {"error": {"code": "ErrorItemNotFound", "message": "gone"}})

    await calendar.patch_event("tok", "oid-megan", "AAMkAG", {"subject": "Renamed"})
    assert await calendar.delete_event("tok", "oid-megan", "AAMkAG") is True
    assert await calendar.delete_event("tok", "oid-megan", "AAMkAG") is False

    assert (upstream.requests[0].method, upstream.url(0)) == (
        "PATCH",
        f"{GRAPH}/users/oid-megan/events/AAMkAG",
    )
    assert upstream.json(0) == {"subject": "Renamed"}
    assert (upstream.requests[1].method, upstream.url(1)) == (
        "DELETE",
        f"{GRAPH}/users/oid-megan/events/AAMkAG",
    )


async def test_create_online_meeting_sends_utc_times_and_reads_the_join_url(calendar, upstream):
    upstream.reply(
        201,
        {"id": "MSpkYzE3", "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/y", "subject": "Sync"},
    )

    meeting = await calendar.create_online_meeting(
        "tok",
        "oid-megan",
        "Sync",
        datetime(2026, 3, 15, 10, tzinfo=UTC),
        datetime(2026, 3, 15, 10, 30, tzinfo=UTC),
    )

    assert (upstream.last.method, upstream.url()) == ("POST", f"{GRAPH}/users/oid-megan/onlineMeetings")
    assert upstream.json() == {
        "subject": "Sync",
        "startDateTime": "2026-03-15T10:00:00Z",
        "endDateTime": "2026-03-15T10:30:00Z",
    }
    assert (meeting.id, meeting.join_url) == ("MSpkYzE3", "https://teams.microsoft.com/l/meetup-join/y")


def graph_user(oid, mail, enabled=True):
    return {
        "id": oid,
        "displayName": mail,
        "mail": mail,
        "userPrincipalName": mail,
        "accountEnabled": enabled,
        "userType": "Member",
    }


async def test_iter_users_selects_fields_and_follows_next_link_verbatim(directory, upstream):
    next_link = f"{GRAPH}/users?$select=id,mail&$top=999&$skiptoken=X%27Y"
    upstream.reply(200, {"value": [graph_user("1", "a@contoso.example")], "@odata.nextLink": next_link})
    upstream.reply(
        200, {"value": [graph_user("2", "b@contoso.example", enabled=False), {"id": "3", "mail": None}]}
    )

    pages = [p async for p in directory.iter_users("tok")]

    assert str(upstream.requests[0].url) == (
        f"{GRAPH}/users?$select=id,displayName,mail,userPrincipalName,accountEnabled,userType&$top=999"
    )
    assert str(upstream.requests[1].url) == next_link
    assert [(p.number, p.cursor, p.next_cursor) for p in pages] == [
        (1, None, next_link),
        (2, next_link, None),
    ]
    b, c = pages[1].items
    assert (b.id, b.account_enabled, b.user_type, b.removed) == ("2", False, "Member", None)
    assert (c.mail, c.account_enabled) == (None, None)


async def test_a_next_link_to_another_host_is_refused_so_the_token_stays_home(directory, upstream):
    upstream.reply(200, {"value": [], "@odata.nextLink": "https://evil.example/users?$skiptoken=1"})

    with pytest.raises(ProviderResponseError):
        async for _ in directory.iter_users("tok"):
            pass

    assert len(upstream.requests) == 1


async def test_iter_users_delta_flags_removed_users_and_ends_with_a_delta_link(directory, upstream):
    next_link = f"{GRAPH}/users/delta?$skiptoken=abc"
    delta_link = f"{GRAPH}/users/delta?$deltatoken=xyz"
    upstream.reply(200, {"value": [graph_user("1", "a@contoso.example")], "@odata.nextLink": next_link})
    upstream.reply(
        200,
        {
            "value": [
                {"id": "2", "@removed": {"reason": "changed"}},
                {"id": "3", "@removed": {"reason": "deleted"}},
            ],
            "@odata.deltaLink": delta_link,
        },
    )

    pages = [p async for p in directory.iter_users_delta("tok")]

    assert str(upstream.requests[0].url) == (
        f"{GRAPH}/users/delta?$select=id,displayName,mail,userPrincipalName,accountEnabled,userType"
    )
    assert [p.delta_link for p in pages] == [None, delta_link]
    assert [(u.id, u.removed) for u in pages[1].items] == [("2", "changed"), ("3", "deleted")]
    assert pages[0].items[0].removed is None


async def test_iter_users_delta_replays_a_stored_delta_link(directory, upstream):
    delta_link = f"{GRAPH}/users/delta?$deltatoken=xyz"
    upstream.reply(200, {"value": [], "@odata.deltaLink": f"{GRAPH}/users/delta?$deltatoken=next"})

    [page] = [p async for p in directory.iter_users_delta("tok", delta_link=delta_link)]

    assert str(upstream.last.url) == delta_link
    assert page.delta_link == f"{GRAPH}/users/delta?$deltatoken=next"


async def test_get_organization_reads_tenant_and_verified_domains(directory, upstream):
    upstream.reply(
        200,
        {
            "value": [
                {
                    "id": "11111111-1111-1111-1111-111111111111",
                    "displayName": "Contoso",
                    "verifiedDomains": [
                        {"name": "contoso.example", "isDefault": True, "isInitial": False, "type": "Managed"},
                        {
                            "name": "contoso.onmicrosoft.com",
                            "isDefault": False,
                            "isInitial": True,
                            "type": "Managed",
                        },
                    ],
                }
            ]
        },
    )

    org = await directory.get_organization("tok")

    assert upstream.url() == f"{GRAPH}/organization"
    assert org.id == "11111111-1111-1111-1111-111111111111" and org.display_name == "Contoso"
    assert [(d.name, d.is_default, d.is_initial) for d in org.verified_domains] == [
        ("contoso.example", True, False),
        ("contoso.onmicrosoft.com", False, True),
    ]


async def test_iter_rooms_reads_places(directory, upstream):
    upstream.reply(
        200,
        {
            "value": [
                {
                    "id": "r1",
                    "emailAddress": "room-1@contoso.example",
                    "displayName": "Room 1",
                    "capacity": 8,
                    "building": "B1",
                    "floorNumber": 2,
                }
            ]
        },
    )

    [page] = [p async for p in directory.iter_rooms("tok")]

    assert upstream.url() == f"{GRAPH}/places/microsoft.graph.room"
    [room] = page.items
    assert (room.id, room.email, room.capacity, room.building, room.floor_number) == (
        "r1",
        "room-1@contoso.example",
        8,
        "B1",
        2,
    )
