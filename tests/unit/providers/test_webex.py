"""Webex: OAuth, meetings (200 on create), people with Link-header paging."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from providers import InvalidGrant, ProviderBadRequest, ProviderResponseError, pkce_challenge
from providers.webex import Webex

API = "https://webexapis.com/v1"


@pytest.fixture
def webex(http, endpoints, apps):
    return Webex(http, endpoints, apps.webex)


def test_authorization_url(webex):
    parts = urlsplit(
        webex.authorization_url(
            redirect_uri="http://x/cb",
            scopes=["spark:kms", "meeting:admin_schedule_write", "spark:people_read"],
            state="st",
            code_verifier="v" * 43,
        )
    )

    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{API}/authorize"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": "webex-client",
        "response_type": "code",
        "redirect_uri": "http://x/cb",
        "scope": "spark:kms meeting:admin_schedule_write spark:people_read",
        "state": "st",
        "code_challenge": pkce_challenge("v" * 43),
        "code_challenge_method": "S256",
    }


async def test_exchange_and_refresh_send_client_credentials_in_the_form(webex, upstream):
    upstream.reply(
        200,
        {
            "access_token": "at",
            "expires_in": 1209600,
            "refresh_token": "rt",
            "refresh_token_expires_in": 7776000,
            "token_type": "Bearer",
        },
    )
    upstream.reply(200, {"access_token": "at2", "expires_in": 1209600, "token_type": "Bearer"})

    first = await webex.exchange_code(code="c", redirect_uri="http://x/cb", code_verifier="ver")
    second = await webex.refresh("rt")

    assert upstream.url(0) == f"{API}/access_token"
    assert upstream.form(0) == {
        "grant_type": "authorization_code",
        "client_id": "webex-client",
        "client_secret": "webex-secret-000",
        "code": "c",
        "redirect_uri": "http://x/cb",
        "code_verifier": "ver",
    }
    assert upstream.form(1) == {
        "grant_type": "refresh_token",
        "client_id": "webex-client",
        "client_secret": "webex-secret-000",
        "refresh_token": "rt",
    }
    assert first.refresh_token == "rt" and second.refresh_token == "rt"


async def test_an_expired_refresh_token_is_invalid_grant(webex, upstream):
    message = "The refresh token provided is expired, revoked, malformed, or invalid."
    upstream.reply(400, {"message": message, "errors": [{"description": message}], "trackingId": "T1"})

    with pytest.raises(InvalidGrant):
        await webex.refresh("rt")


async def test_create_meeting_posts_times_in_utc_and_reads_the_200_answer(webex, upstream):
    upstream.reply(
        200,
        {
            "id": "870f51ff287b41be84648412901e0402",
            "meetingNumber": "123456789",
            "title": "Sync",
            "password": "BgJep@43",
            "webLink": "https://site.webex.com/site/j.php?MTID=m1",
            "sipAddress": "123456789@site.webex.com",
            "hostEmail": "alan@northwind.example",
        },
        headers={"Content-Type": "application/json;charset=UTF-8"},
    )

    meeting = await webex.create_meeting(
        "tok",
        title="Sync",
        start=datetime(2026, 3, 15, 10, tzinfo=UTC),
        end=datetime(2026, 3, 15, 10, 30, tzinfo=UTC),
        timezone="Europe/Berlin",
        invitees=["bob@x.example"],
        host_email="alan@northwind.example",
    )

    assert (upstream.last.method, upstream.url()) == ("POST", f"{API}/meetings")
    assert upstream.json() == {
        "title": "Sync",
        "start": "2026-03-15T10:00:00Z",
        "end": "2026-03-15T10:30:00Z",
        "timezone": "Europe/Berlin",
        "invitees": [{"email": "bob@x.example"}],
        "hostEmail": "alan@northwind.example",
        "sendEmail": True,
    }
    assert (meeting.id, meeting.web_link, meeting.meeting_number) == (
        "870f51ff287b41be84648412901e0402",
        "https://site.webex.com/site/j.php?MTID=m1",
        "123456789",
    )
    assert "BgJep@43" not in repr(meeting)


async def test_create_meeting_validation_error(webex, upstream):
    upstream.reply(
        400,
        {
            "message": "The input parameters contain invalid items.",
            "errors": [{"description": "start is in the past"}],
            "trackingId": "T",
        },
    )

    with pytest.raises(ProviderBadRequest):
        await webex.create_meeting(
            "tok", title="t", start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 1, 1, tzinfo=UTC)
        )

    assert len(upstream.requests) == 1


async def test_delete_meeting(webex, upstream):
    upstream.reply(204)
    upstream.reply(404, {"message": "Not found", "trackingId": "T"})

    assert await webex.delete_meeting("tok", "870f", host_email="alan@northwind.example") is True
    assert await webex.delete_meeting("tok", "870f") is False

    assert (upstream.requests[0].method, upstream.url(0)) == ("DELETE", f"{API}/meetings/870f")
    assert upstream.query(0) == {"sendEmail": "true", "hostEmail": "alan@northwind.example"}


def person(pid, email):
    return {
        "id": pid,
        "emails": [email],
        "displayName": email,
        "orgId": "org1",
        "type": "person",
        "status": "active",
    }


async def test_find_person_by_email(webex, upstream):
    upstream.reply(200, {"items": [person("p1", "ada@northwind.example")], "notFoundIds": None})

    found = await webex.find_person("tok", "ada@northwind.example")

    assert upstream.url() == f"{API}/people"
    assert upstream.query() == {"max": "100", "email": "ada@northwind.example"}
    assert found is not None and found.id == "p1" and found.emails == ("ada@northwind.example",)


async def test_me_is_the_tokens_person(webex, upstream):
    upstream.reply(200, person("p7", "grace@northwind.example"))

    me = await webex.me("tok")

    assert (upstream.last.method, upstream.url()) == ("GET", f"{API}/people/me")
    assert upstream.last.headers["authorization"] == "Bearer tok"
    assert (me.id, me.emails, me.org_id) == ("p7", ("grace@northwind.example",), "org1")


async def test_me_without_an_id_is_a_response_error(webex, upstream):
    upstream.reply(200, {"emails": ["grace@northwind.example"]})

    with pytest.raises(ProviderResponseError):
        await webex.me("tok")


async def test_find_person_unknown_email_is_none(webex, upstream):
    upstream.reply(200, {"items": [], "notFoundIds": None})

    assert await webex.find_person("tok", "nobody@x.example") is None


async def test_iter_people_follows_the_link_header(webex, upstream):
    next_url = f"{API}/people?max=1&cursor=Y3Vyc29y"
    upstream.reply(
        200, {"items": [person("p1", "a@x.example")]}, headers={"Link": f'<{next_url}>; rel="next"'}
    )
    upstream.reply(200, {"items": [person("p2", "b@x.example")]})

    pages = [p async for p in webex.iter_people("tok", page_size=1)]

    assert str(upstream.requests[1].url) == next_url
    assert [(p.number, p.cursor, p.next_cursor, [i.id for i in p.items]) for p in pages] == [
        (1, None, next_url, ["p1"]),
        (2, next_url, None, ["p2"]),
    ]
