"""Google clients against the sandbox: OAuth, service account, Calendar, Directory, Meet, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from providers import InvalidGrant, OAuthError, Pkce, ProviderPermissionError, ProviderRateLimited, new_pkce
from providers.google import decode_id_token_unverified, new_event_id

REDIRECT_URI = "http://127.0.0.1:8054/oauth/callback"

CALENDAR = "https://www.googleapis.com/auth/calendar"
FREEBUSY = "https://www.googleapis.com/auth/calendar.events.freebusy"
DIRECTORY = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
]
WEEK = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 12, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _google(require):
    require("google")


async def token_for(admin, email: str, scopes: list[str]) -> str:
    return await admin.issue_token("google", scopes=scopes, subject=email, email=email, tenant="C01northwind")


async def ada_consents(oauth, authorize) -> tuple[str, Pkce]:
    """Ada grants ``email`` and Calendar; the authorization code and the PKCE pair it needs."""
    pkce = new_pkce()
    url = oauth.authorization_url(
        redirect_uri=REDIRECT_URI, scopes=["email", CALENDAR], state="s", code_verifier=pkce.verifier,
        login_hint="ada@northwind.example",
    )  # fmt: skip
    return (await authorize(url))["code"], pkce


async def test_the_web_server_flow_refresh_and_revoke(providers, authorize):
    oauth = providers.google.oauth
    pkce = new_pkce()
    url = oauth.authorization_url(
        redirect_uri=REDIRECT_URI,
        scopes=["openid", "email", "profile", CALENDAR],
        state="st-1",
        code_verifier=pkce.verifier,
        login_hint="ada@northwind.example",
    )

    redirect = await authorize(url)
    tokens = await oauth.exchange_code(
        code=redirect["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier
    )

    assert redirect["state"] == "st-1"
    assert tokens.refresh_token and tokens.expires_at is not None
    assert tokens.scopes is not None and CALENDAR in tokens.scopes
    assert tokens.id_token is not None
    identity = decode_id_token_unverified(tokens.id_token)
    assert identity.email == "ada@northwind.example" and identity.hd == "northwind.example"

    refreshed = await oauth.refresh(tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token == tokens.refresh_token

    assert await oauth.revoke(tokens.refresh_token) is True
    with pytest.raises(InvalidGrant) as caught:
        await oauth.refresh(tokens.refresh_token)
    assert tokens.refresh_token not in str(caught.value)


async def test_userinfo_and_tokeninfo_name_the_user_who_authorized(providers, authorize):
    oauth = providers.google.oauth
    code, pkce = await ada_consents(oauth, authorize)
    tokens = await oauth.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier)

    by_userinfo = await oauth.userinfo(tokens.access_token)
    by_tokeninfo = await oauth.tokeninfo(tokens.access_token)

    assert by_userinfo.sub and by_userinfo.sub == by_tokeninfo.sub
    assert by_userinfo.email == by_tokeninfo.email == "ada@northwind.example"
    assert by_userinfo.hd == "northwind.example"
    await oauth.revoke(tokens.access_token)
    with pytest.raises(OAuthError) as caught:
        await oauth.tokeninfo(tokens.access_token)
    assert tokens.access_token not in str(caught.value)


async def test_a_code_works_only_once(providers, authorize):
    oauth = providers.google.oauth
    code, pkce = await ada_consents(oauth, authorize)
    await oauth.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier)

    with pytest.raises(InvalidGrant):
        await oauth.exchange_code(code=code, redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier)


async def test_the_service_account_reads_the_directory_page_by_page(providers, sbx):
    fixture = Path(sbx.sandbox.fixture_dir) / "google.json"
    key = json.loads(fixture.read_text())["service_accounts"][0]

    tokens = await providers.google.oauth.service_account_token(key, "grace@northwind.example", DIRECTORY)
    pages = [p async for p in providers.google.directory.iter_users(tokens.access_token, page_size=3)]
    domains = await providers.google.directory.list_domains(tokens.access_token)

    emails = [u.primary_email for p in pages for u in p.items]
    assert len(pages) >= 2 and all(len(p.items) <= 3 for p in pages)
    assert pages[-1].last and not pages[0].last
    assert "ada@northwind.example" in emails and len(emails) == len(set(emails))
    assert any(d.name == "northwind.example" and "nw.example" in d.aliases for d in domains)


async def test_free_busy_reads_busy_times_and_reports_unknown_calendars(providers, admin):
    token = await token_for(admin, "ada@northwind.example", [FREEBUSY])

    result = await providers.google.calendar.free_busy(
        token, ["ada@northwind.example", "nobody@northwind.example"], *WEEK
    )

    assert result["ada@northwind.example"].ok and result["ada@northwind.example"].busy
    assert all(i.start.tzinfo == UTC and i.start < i.end for i in result["ada@northwind.example"].busy)
    assert not result["nobody@northwind.example"].ok


async def test_free_busy_rides_out_a_429_with_retry_after(providers, admin, sleeps):
    token = await token_for(admin, "ada@northwind.example", [FREEBUSY])
    await admin.add_fault(route="google.freeBusy", kind="status", status=429, retry_after=2, times=1)

    result = await providers.google.calendar.free_busy(token, ["ada@northwind.example"], *WEEK)

    assert result["ada@northwind.example"].ok
    assert sleeps == [2.0]
    assert len(await admin.requests(route="google.freeBusy")) == 2


async def test_a_per_calendar_fault_is_that_calendars_error(providers, admin):
    token = await token_for(admin, "ada@northwind.example", [FREEBUSY])
    await admin.add_fault(provider="google", calendar="grace@northwind.example", kind="status", status=500)

    result = await providers.google.calendar.free_busy(
        token, ["ada@northwind.example", "grace@northwind.example"], *WEEK
    )

    assert result["ada@northwind.example"].ok
    assert not result["grace@northwind.example"].ok


async def test_a_throttle_that_never_ends_is_rate_limited(providers, admin, sleeps):
    token = await token_for(admin, "ada@northwind.example", [FREEBUSY])
    await admin.add_fault(
        route="google.calendarList.list", kind="status", status=429, retry_after=1, times=None
    )

    with pytest.raises(ProviderRateLimited):
        await providers.google.calendar.list_calendars(token)

    assert sleeps == [1.0, 1.0, 1.0]


async def test_a_token_without_the_scope_is_refused(providers, admin):
    token = await token_for(admin, "ada@northwind.example", ["email"])

    with pytest.raises(ProviderPermissionError):
        await providers.google.calendar.free_busy(token, ["ada@northwind.example"], *WEEK)


async def test_events_with_a_meet_link_from_insert_to_delete(providers, admin):
    token = await token_for(admin, "ada@northwind.example", [CALENDAR])
    calendar = providers.google.calendar
    start = datetime(2026, 11, 2, 10, tzinfo=UTC)
    body = {
        "summary": "Rendezvous check",
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
        "attendees": [{"email": "alan@northwind.example"}],
    }
    event_id = new_event_id()

    event = await calendar.insert_event(token, "primary", body, conference=True, event_id=event_id)
    again = await calendar.insert_event(token, "primary", body, conference=True, event_id=event_id)
    if event.meet_url is None:
        event = await calendar.get_event(token, "primary", event.id)
    patched = await calendar.patch_event(token, "primary", event.id, {"summary": "Renamed"})

    assert event.id == again.id == event_id
    assert event.meet_url and event.meet_url.startswith("https://meet.google.com/")
    assert patched.raw["summary"] == "Renamed"
    assert await calendar.delete_event(token, "primary", event.id) is True
    assert await calendar.delete_event(token, "primary", event.id) is False


async def test_list_calendars(providers, admin):
    token = await token_for(
        admin, "ada@northwind.example", ["https://www.googleapis.com/auth/calendar.calendarlist.readonly"]
    )

    entries = await providers.google.calendar.list_calendars(token)

    assert entries and all(e.id for e in entries)


async def test_create_a_meet_space(providers, admin):
    token = await token_for(
        admin, "ada@northwind.example", ["https://www.googleapis.com/auth/meetings.space.created"]
    )

    space = await providers.google.meet.create_space(token)

    assert space.name.startswith("spaces/") and space.meeting_uri.startswith("https://meet.google.com/")
