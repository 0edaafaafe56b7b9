"""Zoom client against the sandbox: user OAuth, Server-to-Server tokens, users and meetings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from providers import InvalidGrant, OAuthApp, OAuthError, ProviderNotFound, new_pkce
from providers.zoom import Zoom

REDIRECT_URI = "http://127.0.0.1:8054/oauth/callback"


@pytest.fixture(autouse=True)
def _zoom(require):
    require("zoom")


@pytest.fixture
def fixture(sbx) -> dict[str, Any]:
    return json.loads((Path(sbx.sandbox.fixture_dir) / "zoom.json").read_text())


@pytest.fixture
def s2s(providers, fixture) -> tuple[Zoom, str]:
    """A Zoom client for the fixture's Server-to-Server app, and its account id."""
    client = next((c for c in fixture["clients"] if c.get("account_id")), None)
    if client is None:
        pytest.skip("the zoom fixture has no Server-to-Server app yet")
    zoom = Zoom(providers.http, providers.endpoints, OAuthApp(client["client_id"], client["client_secret"]))
    return zoom, client["account_id"]


def a_user_email(fixture: dict[str, Any]) -> str:
    return str(fixture["users"][0]["email"])


async def test_the_user_oauth_flow_rotates_refresh_tokens(providers, authorize, fixture):
    pkce = new_pkce()
    url = providers.zoom.authorization_url(
        redirect_uri=REDIRECT_URI, state="st-z", code_verifier=pkce.verifier
    )
    redirect = await authorize(f"{url}&login_hint={a_user_email(fixture)}")

    tokens = await providers.zoom.exchange_code(
        code=redirect["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier
    )
    rotated = await providers.zoom.refresh(tokens.refresh_token or "")

    assert rotated.refresh_token and rotated.refresh_token != tokens.refresh_token
    with pytest.raises(InvalidGrant):
        await providers.zoom.refresh(tokens.refresh_token or "")


async def test_a_revoked_refresh_token_is_dead(providers, authorize, fixture):
    pkce = new_pkce()
    url = providers.zoom.authorization_url(redirect_uri=REDIRECT_URI, state="st-r", code_verifier=pkce.verifier)
    redirect = await authorize(f"{url}&login_hint={a_user_email(fixture)}")
    tokens = await providers.zoom.exchange_code(
        code=redirect["code"], redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier
    )

    await providers.zoom.revoke(tokens.refresh_token or "")

    with pytest.raises(InvalidGrant):
        await providers.zoom.refresh(tokens.refresh_token or "")
    with pytest.raises(OAuthError):
        await providers.zoom.revoke(tokens.refresh_token or "")


async def test_server_to_server_token_reads_users_and_books_meetings(s2s, fixture):
    zoom, account_id = s2s
    token = (await zoom.account_token(account_id)).access_token
    email = a_user_email(fixture)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

    user = await zoom.get_user(token, email)
    meeting = await zoom.create_meeting(token, email, "Rendezvous check", start, 30, "UTC", ["bob@x.example"])

    assert user.email == email
    assert isinstance(meeting.id, int) and meeting.join_url.startswith("https://")
    assert await zoom.delete_meeting(token, meeting.id) is True
    assert await zoom.delete_meeting(token, meeting.id) is False


async def test_a_meeting_moved_then_gone(s2s, fixture, admin):
    zoom, account_id = s2s
    token = (await zoom.account_token(account_id)).access_token
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    meeting = await zoom.create_meeting(token, a_user_email(fixture), "Check", start, 30, "UTC")

    await zoom.update_meeting(token, meeting.id, topic="Moved", start=start + timedelta(hours=3), duration_min=45,
                              timezone="Europe/Berlin")

    patch = (await admin.requests(route="zoom.meetings.update"))[-1]
    assert (patch["method"], patch["status"]) == ("PATCH", 204)
    assert patch["json"] == {"topic": "Moved", "start_time": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "duration": 45, "timezone": "Europe/Berlin"}
    await zoom.delete_meeting(token, meeting.id)
    with pytest.raises(ProviderNotFound) as gone:
        await zoom.update_meeting(token, meeting.id, topic="x", start=start, duration_min=30, timezone="UTC")
    assert gone.value.provider_code == "3001"


async def test_an_unknown_user_is_not_found(s2s):
    zoom, account_id = s2s
    token = (await zoom.account_token(account_id)).access_token

    with pytest.raises(ProviderNotFound) as caught:
        await zoom.get_user(token, "nobody@nowhere.example")

    assert caught.value.provider_code == "1001"
