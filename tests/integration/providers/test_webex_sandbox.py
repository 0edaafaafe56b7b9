"""Webex client against the sandbox: OAuth, meetings (200 on create), people and Link paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from providers import InvalidGrant, ProviderBadRequest, ProviderNotFound, TokenSet, new_pkce

REDIRECT_URI = "http://127.0.0.1:8054/oauth/callback"
SCOPES = ["spark:kms", "meeting:admin_schedule_write", "spark:people_read"]


@pytest.fixture(autouse=True)
def _webex(require):
    require("webex")


@pytest.fixture
async def tokens(providers, authorize) -> TokenSet:
    pkce = new_pkce()
    url = (
        providers.webex.authorization_url(
            redirect_uri=REDIRECT_URI, scopes=SCOPES, state="st-wx", code_verifier=pkce.verifier
        )
        + "&login_hint=ada%40northwind.example"
    )
    redirect = await authorize(url)
    assert redirect["state"] == "st-wx"
    return await providers.webex.exchange_code(
        code=redirect["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier
    )


def next_hour(days: int = 2) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


async def test_exchange_and_refresh(providers, tokens):
    refreshed = await providers.webex.refresh(tokens.refresh_token or "")

    assert tokens.scopes is not None and set(SCOPES) <= tokens.scopes
    assert refreshed.access_token and refreshed.refresh_token == tokens.refresh_token
    with pytest.raises(InvalidGrant):
        await providers.webex.refresh("not-a-refresh-token")


async def test_me_is_the_person_who_authorized(providers, tokens):
    me = await providers.webex.me(tokens.access_token)
    ada = await providers.webex.find_person(tokens.access_token, "ada@northwind.example")

    assert me.emails == ("ada@northwind.example",)
    assert ada is not None and (me.id, me.org_id) == (ada.id, ada.org_id)


async def test_meetings_from_create_to_delete(providers, tokens, admin):
    start = next_hour()

    meeting = await providers.webex.create_meeting(
        tokens.access_token,
        title="Rendezvous check",
        start=start,
        end=start + timedelta(minutes=30),
        timezone="Europe/London",
        invitees=["alan@northwind.example"],
    )

    assert meeting.id and meeting.web_link.startswith("https://")
    requests = await admin.requests(route="webex.meetings.create")
    assert requests[-1]["status"] == 200
    assert await providers.webex.delete_meeting(tokens.access_token, meeting.id) is True
    assert await providers.webex.delete_meeting(tokens.access_token, meeting.id) is False


async def test_an_admin_moves_a_meeting_it_scheduled_for_another_host(providers, tokens, admin):
    start = next_hour()
    webex = providers.webex
    meeting = await webex.create_meeting(tokens.access_token, title="Check", start=start, end=start + timedelta(minutes=30),
                                         host_email="grace@northwind.example", agenda="Numbers", send_email=False)

    moved = await webex.update_meeting(
        tokens.access_token, meeting.id, title="Moved", start=start + timedelta(hours=2),
        end=start + timedelta(hours=2, minutes=45), timezone="UTC", host_email="grace@northwind.example",
        agenda="Numbers", password=meeting.password, send_email=False)

    assert (moved.id, moved.web_link, moved.password) == (meeting.id, meeting.web_link, meeting.password)
    assert (moved.raw["title"], moved.raw["agenda"], moved.raw["start"]) == (
        "Moved", "Numbers", (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    put = (await admin.requests(route="webex.meetings.update"))[-1]
    assert (put["method"], put["status"], put["json"]["hostEmail"]) == ("PUT", 200, "grace@northwind.example")
    assert await webex.delete_meeting(tokens.access_token, meeting.id, host_email="grace@northwind.example") is True
    with pytest.raises(ProviderNotFound):
        await webex.update_meeting(tokens.access_token, meeting.id, title="Gone", start=start,
                                   end=start + timedelta(minutes=30), host_email="grace@northwind.example")


async def test_a_meeting_in_the_past_is_a_bad_request(providers, tokens):
    start = next_hour(days=-2)

    with pytest.raises(ProviderBadRequest):
        await providers.webex.create_meeting(
            tokens.access_token, title="Too late", start=start, end=start + timedelta(minutes=30)
        )


async def test_people_by_email_and_page_by_page(providers, tokens):
    ada = await providers.webex.find_person(tokens.access_token, "ada@northwind.example")
    nobody = await providers.webex.find_person(tokens.access_token, "nobody@northwind.example")
    pages = [p async for p in providers.webex.iter_people(tokens.access_token, page_size=3)]

    assert ada is not None and ada.emails == ("ada@northwind.example",)
    assert nobody is None
    people = [p for page in pages for p in page.items]
    assert len(pages) >= 2 and len({p.id for p in people}) == len(people)
    assert pages[1].cursor is not None and pages[-1].last
