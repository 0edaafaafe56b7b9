"""Zoom: OAuth with Basic auth, Server-to-Server tokens, users and meetings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from providers import InvalidGrant, OAuthError, ProviderNotFound, ProviderUnavailable, pkce_challenge
from providers.zoom import Zoom

BASIC = "Basic " + base64.b64encode(b"zoom-client:zoom-secret-789").decode()


@pytest.fixture
def zoom(http, endpoints, apps):
    return Zoom(http, endpoints, apps.zoom)


def test_authorization_url(zoom):
    parts = urlsplit(zoom.authorization_url(redirect_uri="http://x/cb", state="st", code_verifier="v" * 43))

    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://zoom.us/oauth/authorize"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "response_type": "code",
        "client_id": "zoom-client",
        "redirect_uri": "http://x/cb",
        "state": "st",
        "code_challenge": pkce_challenge("v" * 43),
        "code_challenge_method": "S256",
    }


async def test_exchange_code_uses_basic_auth(zoom, upstream):
    upstream.reply(
        200,
        {
            "access_token": "at",
            "token_type": "bearer",
            "expires_in": 3599,
            "scope": "meeting:write:admin user:read:admin",
            "refresh_token": "rt",
            "api_url": "https://api.zoom.us",
        },
    )

    tokens = await zoom.exchange_code(code="c", redirect_uri="http://x/cb", code_verifier="ver")

    assert (upstream.last.method, upstream.url()) == ("POST", "https://zoom.us/oauth/token")
    assert upstream.last.headers["authorization"] == BASIC
    assert upstream.form() == {
        "grant_type": "authorization_code",
        "code": "c",
        "redirect_uri": "http://x/cb",
        "code_verifier": "ver",
    }
    assert (
        tokens.scopes == frozenset({"meeting:write:admin", "user:read:admin"})
        and tokens.refresh_token == "rt"
    )


async def test_refresh_returns_the_new_refresh_token_and_is_never_retried(zoom, upstream):
    upstream.reply(200, {"access_token": "at2", "expires_in": 3599, "refresh_token": "rt2"})
    upstream.reply(503, {"code": 503, "message": "x"})

    tokens = await zoom.refresh("rt1")
    with pytest.raises(ProviderUnavailable):
        await zoom.refresh("rt2")

    assert upstream.form(0) == {"grant_type": "refresh_token", "refresh_token": "rt1"}
    assert tokens.refresh_token == "rt2"
    assert len(upstream.requests) == 2


async def test_a_used_refresh_token_is_invalid_grant(zoom, upstream):
    upstream.reply(400, {"reason": "Invalid Token!", "error": "invalid_grant"})

    with pytest.raises(InvalidGrant):
        await zoom.refresh("rt-old")


async def test_account_token_is_server_to_server(zoom, upstream):
    upstream.reply(
        200, {"access_token": "s2s", "token_type": "bearer", "expires_in": 3600, "scope": "user:read:admin"}
    )

    tokens = await zoom.account_token("zoom-acct-1")

    assert upstream.last.headers["authorization"] == BASIC
    assert upstream.form() == {"grant_type": "account_credentials", "account_id": "zoom-acct-1"}
    assert tokens.refresh_token is None


async def test_get_user_by_email(zoom, upstream):
    upstream.reply(
        200,
        {
            "id": "z1",
            "first_name": "Megan",
            "last_name": "B",
            "email": "megan@contoso.example",
            "type": 2,
            "status": "active",
            "account_id": "zoom-acct-1",
            "timezone": "Europe/Berlin",
        },
    )

    user = await zoom.get_user("tok", "megan@contoso.example")

    assert (upstream.last.method, upstream.url()) == (
        "GET",
        "https://api.zoom.us/v2/users/megan@contoso.example",
    )
    assert upstream.last.headers["authorization"] == "Bearer tok"
    assert (user.id, user.email, user.type, user.status) == ("z1", "megan@contoso.example", 2, "active")


async def test_an_unknown_user_is_not_found_with_zoom_code_1001(zoom, upstream):
    upstream.reply(404, {"code": 1001, "message": "User does not exist: x@y.example."})

    with pytest.raises(ProviderNotFound) as caught:
        await zoom.get_user("tok", "x@y.example")

    assert caught.value.provider_code == "1001"


async def test_create_meeting_sends_a_scheduled_meeting_in_utc_and_keeps_the_int64_id(zoom, upstream):
    upstream.reply(
        201,
        {
            "id": 85746065432123,
            "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
            "host_email": "megan@contoso.example",
            "topic": "Sync",
            "type": 2,
            "start_time": "2026-03-15T10:00:00Z",
            "duration": 30,
            "start_url": "https://zoom.us/s/85746065432123?zak=SECRETZAK",
            "join_url": "https://zoom.us/j/85746065432123?pwd=abc",
            "password": "abc123",
        },
    )

    meeting = await zoom.create_meeting(
        "tok",
        "megan@contoso.example",
        "Sync",
        datetime(2026, 3, 15, 10, tzinfo=UTC),
        30,
        "Europe/Berlin",
        ["bob@x.example"],
    )

    assert (upstream.last.method, upstream.url()) == (
        "POST",
        "https://api.zoom.us/v2/users/megan@contoso.example/meetings",
    )
    assert upstream.json() == {
        "topic": "Sync",
        "type": 2,
        "start_time": "2026-03-15T10:00:00Z",
        "duration": 30,
        "timezone": "Europe/Berlin",
        "settings": {"meeting_invitees": [{"email": "bob@x.example"}]},
    }
    assert meeting.id == 85746065432123 and isinstance(meeting.id, int)
    assert meeting.join_url == "https://zoom.us/j/85746065432123?pwd=abc"
    assert "SECRETZAK" not in repr(meeting) and "abc123" not in repr(meeting)


async def test_create_meeting_is_not_retried(zoom, upstream):
    upstream.reply(500, {"code": 500, "message": "x"})

    with pytest.raises(ProviderUnavailable):
        await zoom.create_meeting("tok", "me", "t", datetime(2026, 3, 15, tzinfo=UTC), 30, "UTC")

    assert len(upstream.requests) == 1


async def test_delete_meeting(zoom, upstream):
    upstream.reply(204)
    upstream.reply(404, {"code": 3001, "message": "Meeting does not exist"})

    assert await zoom.delete_meeting("tok", 85746065432123) is True
    assert await zoom.delete_meeting("tok", 85746065432123) is False

    assert (upstream.requests[0].method, upstream.url(0)) == (
        "DELETE",
        "https://api.zoom.us/v2/meetings/85746065432123",
    )


async def test_revoke_sends_the_token_in_the_query_with_basic_auth(zoom, upstream):
    upstream.reply(200, {"status": "success"})

    await zoom.revoke("rt-secret")

    assert (upstream.last.method, upstream.url()) == ("POST", "https://zoom.us/oauth/revoke")
    assert upstream.query() == {"token": "rt-secret"}
    assert upstream.last.headers["authorization"] == BASIC


async def test_revoking_an_unknown_token_is_an_oauth_error_without_the_token(zoom, upstream):
    upstream.reply(400, {"reason": "Invalid Token: rt-secret", "error": "invalid_request"})

    with pytest.raises(OAuthError) as caught:
        await zoom.revoke("rt-secret")

    assert "rt-secret" not in str(caught.value) + str(caught.value.description)
