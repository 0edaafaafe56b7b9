"""Microsoft clients against the sandbox: identity platform, getSchedule, events, directory, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers import (
    InvalidGrant,
    ProviderAuthError,
    ProviderEndpoints,
    ProviderHttp,
    ProviderNotFound,
    ProviderPermissionError,
    Providers,
    Timeouts,
    new_pkce,
)
from providers.microsoft import ScheduleStatus, decode_id_token_unverified

REDIRECT_URI = "http://127.0.0.1:8054/oauth/callback"
TENANT = "11111111-1111-1111-1111-111111111111"
MEGAN = "aaaaaaaa-0000-4000-8000-000000000001"
WEEK = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 12, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _microsoft(require):
    require("microsoft")


@pytest.fixture
async def app_token(providers) -> str:
    return (await providers.microsoft.identity.client_credentials(TENANT)).access_token


async def test_the_code_flow_and_refresh(providers, authorize):
    identity = providers.microsoft.identity
    pkce = new_pkce()
    url = identity.authorization_url(
        tenant="organizations",
        redirect_uri=REDIRECT_URI,
        scopes=["openid", "profile", "email", "offline_access", "Calendars.ReadBasic"],
        state="st-ms",
        code_verifier=pkce.verifier,
        login_hint="megan@contoso.example",
    )

    redirect = await authorize(url)
    tokens = await identity.exchange_code(
        tenant="organizations", code=redirect["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier
    )
    refreshed = await identity.refresh(tenant="organizations", refresh_token=tokens.refresh_token or "")

    assert redirect["state"] == "st-ms"
    assert tokens.id_token is not None
    who = decode_id_token_unverified(tokens.id_token)
    assert (who.tenant_id, who.object_id) == (TENANT, MEGAN)
    assert refreshed.access_token and refreshed.refresh_token
    with pytest.raises(InvalidGrant):
        await identity.refresh(tenant="organizations", refresh_token="not-a-refresh-token")


async def test_admin_consent_redirects_back_with_the_tenant(providers):
    url = providers.microsoft.identity.admin_consent_url(tenant=TENANT, redirect_uri=REDIRECT_URI, state="st")

    async with httpx.AsyncClient() as client:
        response = await client.get(url, follow_redirects=False)

    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["admin_consent"] == ["True"] and query["state"] == ["st"]


async def test_get_schedule_for_people_and_rooms_in_utc(providers, app_token):
    result = await providers.microsoft.calendar.get_schedule(
        app_token,
        "megan@contoso.example",
        ["adele@contoso.example", "room-vega@contoso.example", "nobody@contoso.example"],
        *WEEK,
    )

    adele = result["adele@contoso.example"]
    assert adele.ok and adele.items
    assert {ScheduleStatus.BUSY, ScheduleStatus.TENTATIVE, ScheduleStatus.OOF} <= {
        i.status for i in adele.items
    }
    assert all(i.start.tzinfo == UTC for i in adele.items)
    # 2026-10-05 09:00 Pacific Daylight Time is 16:00 UTC
    assert any(i.start == datetime(2026, 10, 5, 16, tzinfo=UTC) for i in adele.items)
    assert result["room-vega@contoso.example"].ok and result["room-vega@contoso.example"].items
    assert not result["nobody@contoso.example"].ok


async def test_get_schedule_splits_a_long_window_and_many_schedules(providers, app_token, admin):
    schedules = ["adele@contoso.example"] + [f"ghost{i}@contoso.example" for i in range(24)]
    start = datetime(2026, 9, 1, tzinfo=UTC)

    result = await providers.microsoft.calendar.get_schedule(
        app_token, "megan@contoso.example", schedules, start, start + timedelta(days=70)
    )

    assert len(await admin.requests(route="microsoft.getSchedule")) == 4
    assert result["adele@contoso.example"].ok and len(result) == 25


async def test_get_schedule_honours_retry_after(providers, app_token, admin, sleeps):
    await admin.add_fault(route="microsoft.getSchedule", kind="status", status=429, retry_after=3)

    result = await providers.microsoft.calendar.get_schedule(
        app_token, "megan@contoso.example", ["adele@contoso.example"], *WEEK
    )

    assert result["adele@contoso.example"].ok
    assert sleeps == [3.0]


async def test_events_with_a_teams_link_from_create_to_delete(providers, app_token):
    calendar = providers.microsoft.calendar
    start = datetime(2026, 11, 2, 17, tzinfo=UTC)
    body = {
        "subject": "Rendezvous check",
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": "adele@contoso.example"}, "type": "required"}],
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
    }

    event = await calendar.create_event(app_token, MEGAN, body, transaction_id="tx-rendezvous-1")
    patched = await calendar.patch_event(app_token, MEGAN, event.id, {"subject": "Renamed"})

    assert event.join_url and event.join_url.startswith("https://teams.microsoft.com/")
    assert patched.raw["subject"] == "Renamed"
    assert await calendar.delete_event(app_token, MEGAN, event.id) is True
    assert await calendar.delete_event(app_token, MEGAN, event.id) is False


async def test_a_standalone_online_meeting(providers, app_token):
    start = datetime(2026, 11, 3, 9, tzinfo=UTC)

    meeting = await providers.microsoft.calendar.create_online_meeting(
        app_token, MEGAN, "Rendezvous check", start, start + timedelta(minutes=30)
    )

    assert meeting.id and meeting.join_url.startswith("https://teams.microsoft.com/")


async def test_a_standalone_online_meeting_moved_then_deleted(providers, app_token, admin):
    calendar = providers.microsoft.calendar
    start = datetime(2026, 11, 3, 9, tzinfo=UTC)
    meeting = await calendar.create_online_meeting(app_token, MEGAN, "Check", start, start + timedelta(minutes=30))

    moved = await calendar.update_online_meeting(
        app_token, MEGAN, meeting.id, "Moved", start + timedelta(days=1), start + timedelta(days=1, minutes=45))

    assert (moved.id, moved.join_url) == (meeting.id, meeting.join_url)
    assert (moved.raw["subject"], moved.raw["startDateTime"], moved.raw["endDateTime"]) == (
        "Moved", "2026-11-04T09:00:00.000Z", "2026-11-04T09:45:00.000Z")
    patches = await admin.requests(route="microsoft.onlineMeetings.update")
    assert [(r["method"], r["status"]) for r in patches] == [("PATCH", 200)]
    assert await calendar.delete_online_meeting(app_token, MEGAN, meeting.id) is True
    assert await calendar.delete_online_meeting(app_token, MEGAN, meeting.id) is False
    with pytest.raises(ProviderNotFound):
        await calendar.update_online_meeting(app_token, MEGAN, meeting.id, "Gone", start, start + timedelta(hours=1))


async def test_users_organization_and_rooms(providers, app_token):
    directory = providers.microsoft.directory

    pages = [p async for p in directory.iter_users(app_token, top=4)]
    org = await directory.get_organization(app_token)
    rooms = [r async for p in directory.iter_rooms(app_token) for r in p.items]

    users = [u for p in pages for u in p.items]
    assert len(pages) >= 2 and len({u.id for u in users}) == len(users)
    assert any(u.account_enabled is False for u in users)
    assert org.id == TENANT and any(
        d.name == "contoso.example" and d.is_default for d in org.verified_domains
    )
    assert {r.email for r in rooms} >= {"room-orion@contoso.example", "room-vega@contoso.example"}


async def test_the_users_delta_feed_reports_removals_after_the_delta_link(providers, app_token, admin):
    directory = providers.microsoft.directory
    first = [p async for p in directory.iter_users_delta(app_token)]
    delta_link = first[-1].delta_link
    assert delta_link is not None and all(p.delta_link is None for p in first[:-1])

    await admin.update_user("microsoft", "aaaaaaaa-0000-4000-8000-000000000006", deleted=True)
    changes = [p async for p in directory.iter_users_delta(app_token, delta_link=delta_link)]

    removed = [u for p in changes for u in p.items if u.removed]
    assert [u.id for u in removed] == ["aaaaaaaa-0000-4000-8000-000000000006"]
    assert changes[-1].delta_link is not None


async def test_a_token_without_the_permission_is_refused(providers, admin):
    token = await admin.issue_token(
        "microsoft", scopes=["User.Read"], subject=MEGAN, email="megan@contoso.example", tenant=TENANT
    )

    with pytest.raises(ProviderPermissionError):
        [p async for p in providers.microsoft.directory.iter_users(token)]


async def test_a_revoked_token_is_an_auth_error(providers, app_token, admin):
    await admin.add_fault(route="microsoft.organization", kind="revoke")

    with pytest.raises(ProviderAuthError):
        await providers.microsoft.directory.get_organization(app_token)


async def test_a_read_timeout_is_retried(sbx, admin, app_token, sleeps):
    await admin.add_fault(route="microsoft.organization", kind="timeout", times=1)
    http = ProviderHttp(timeouts=Timeouts(read=0.3), sleep=sleeps)
    try:
        org = await Providers(
            http, ProviderEndpoints.sandbox(sbx.base_url)
        ).microsoft.directory.get_organization(app_token)
    finally:
        await http.aclose()

    assert org.id == TENANT and len(sleeps) == 1
