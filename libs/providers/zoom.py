"""Zoom: user OAuth, Server-to-Server OAuth, users and meetings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers._base import ProviderClient, segment, with_query
from providers._parse import bad, opt_int, opt_str, req_str
from providers.endpoints import OAuthApp, ProviderEndpoints
from providers.error_bodies import zoom_error
from providers.errors import ProviderNotFound
from providers.http import ProviderHttp
from providers.oauth import PKCE_METHOD, TokenSet, parse_token_response, pkce_challenge
from providers.times import format_utc_seconds

SCHEDULED_MEETING = 2


@dataclass(frozen=True)
class ZoomUser:
    """A Zoom user of the account."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    display_name: str | None
    type: int | None
    status: str | None
    account_id: str | None
    timezone: str | None
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ZoomMeeting:
    """A scheduled meeting. ``id`` is an int64; ``start_url`` carries the host's key and is secret."""

    id: int
    uuid: str | None
    join_url: str
    start_url: str | None = field(repr=False)
    password: str | None = field(repr=False)
    host_email: str | None
    topic: str | None
    raw: Mapping[str, Any] = field(repr=False)


class Zoom(ProviderClient):
    """Zoom's OAuth endpoints (for one app) and its REST API."""

    provider = "zoom"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, app: OAuthApp | None = None) -> None:
        super().__init__(http, zoom_error)
        self._oauth = endpoints.zoom_oauth
        self._api = endpoints.zoom_api
        self._app = app

    @property
    def app(self) -> OAuthApp:
        if self._app is None:
            raise RuntimeError("no Zoom app is configured")
        return self._app

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str) -> str:
        """The consent URL (Zoom takes the scopes from the app's configuration)."""
        params = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": pkce_challenge(code_verifier),
            "code_challenge_method": PKCE_METHOD,
        }
        return with_query(f"{self._oauth}/oauth/authorize", params)

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code for tokens (not retried on 5xx: a code is single-use)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return await self._token(form, idempotent=False)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens. Zoom invalidates the old refresh token, so this is never retried on 5xx."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._token(form, idempotent=False)

    async def account_token(self, account_id: str) -> TokenSet:
        """A Server-to-Server token for ``account_id`` (one hour, no refresh token)."""
        form = {"grant_type": "account_credentials", "account_id": account_id}
        return await self._token(form, idempotent=True)

    async def revoke(self, token: str) -> None:
        """Revoke an access or refresh token this app was issued (``POST /oauth/revoke?token=…``)."""
        await self._send(
            "POST",
            f"{self._oauth}/oauth/revoke",
            params={"token": token},
            basic_auth=(self.app.client_id, self.app.client_secret),
            idempotent=True,
            token_endpoint=True,
        )

    async def get_user(self, token: str, user: str) -> ZoomUser:
        """A user by id or email; ``ProviderNotFound`` (code 1001) when the account has none."""
        answer = await self._json("GET", f"{self._api}/users/{segment(user)}", token=token, idempotent=True)
        return ZoomUser(
            id=req_str(self.provider, answer, "id"),
            email=req_str(self.provider, answer, "email"),
            first_name=opt_str(answer, "first_name"),
            last_name=opt_str(answer, "last_name"),
            display_name=opt_str(answer, "display_name"),
            type=opt_int(answer, "type"),
            status=opt_str(answer, "status"),
            account_id=opt_str(answer, "account_id"),
            timezone=opt_str(answer, "timezone"),
            raw=answer,
        )

    async def create_meeting(
        self,
        token: str,
        user: str,
        topic: str,
        start: datetime,
        duration_min: int,
        timezone: str,
        invitees: Sequence[str] = (),
        *,
        agenda: str | None = None,
    ) -> ZoomMeeting:
        """Schedule a meeting hosted by ``user`` (id, email or ``me``); start sent in UTC.

        Not retried on 5xx: Zoom has no idempotency key, and a retry could make a second meeting.
        """
        body: dict[str, Any] = {
            "topic": topic,
            "type": SCHEDULED_MEETING,
            "start_time": format_utc_seconds(start),
            "duration": duration_min,
            "timezone": timezone,
        }
        if agenda:
            body["agenda"] = agenda
        if invitees:
            body["settings"] = {"meeting_invitees": [{"email": email} for email in invitees]}
        answer = await self._json(
            "POST", f"{self._api}/users/{segment(user)}/meetings", token=token, json_body=body
        )
        meeting_id = answer.get("id")
        if not isinstance(meeting_id, int) or isinstance(meeting_id, bool):
            raise bad(self.provider, "meeting without a numeric id")
        return ZoomMeeting(
            id=meeting_id,
            uuid=opt_str(answer, "uuid"),
            join_url=req_str(self.provider, answer, "join_url"),
            start_url=opt_str(answer, "start_url"),
            password=opt_str(answer, "password"),
            host_email=opt_str(answer, "host_email"),
            topic=opt_str(answer, "topic"),
            raw=answer,
        )

    async def update_meeting(
        self,
        token: str,
        meeting_id: int,
        *,
        topic: str,
        start: datetime,
        duration_min: int,
        timezone: str,
        agenda: str | None = None,
    ) -> None:
        """Move and rename a scheduled meeting (``PATCH /meetings/{id}``, Zoom answers 204); start sent
        in UTC. Only the given fields change, so repeating the call is safe (retried on 5xx).
        ``ProviderNotFound`` (code 3001) when Zoom no longer knows the meeting."""
        body: dict[str, Any] = {
            "topic": topic,
            "start_time": format_utc_seconds(start),
            "duration": duration_min,
            "timezone": timezone,
        }
        if agenda is not None:
            body["agenda"] = agenda
        await self._send(
            "PATCH", f"{self._api}/meetings/{meeting_id}", token=token, json_body=body, idempotent=True
        )

    async def delete_meeting(self, token: str, meeting_id: int) -> bool:
        """Delete a meeting; False when Zoom no longer knows it."""
        try:
            await self._send("DELETE", f"{self._api}/meetings/{meeting_id}", token=token, idempotent=True)
        except ProviderNotFound:
            return False
        return True

    async def _token(self, form: dict[str, str], *, idempotent: bool) -> TokenSet:
        body = await self._json(
            "POST",
            f"{self._oauth}/oauth/token",
            form=form,
            basic_auth=(self.app.client_id, self.app.client_secret),
            idempotent=idempotent,
            token_endpoint=True,
        )
        return parse_token_response(self.provider, body, self.http.now())
