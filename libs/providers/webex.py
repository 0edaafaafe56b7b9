"""Webex: OAuth integration, meetings and people."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers._base import ProviderClient, segment, with_query
from providers._parse import objects, opt_bool, opt_str, req_str
from providers.endpoints import OAuthApp, ProviderEndpoints
from providers.error_bodies import webex_error
from providers.errors import ProviderNotFound
from providers.http import ProviderHttp, json_object
from providers.oauth import PKCE_METHOD, TokenSet, parse_token_response, pkce_challenge
from providers.pages import Page, same_origin
from providers.times import format_rfc3339

PEOPLE_PAGE = 100


@dataclass(frozen=True)
class WebexMeeting:
    """A scheduled meeting; ``web_link`` is where attendees join."""

    id: str
    meeting_number: str | None
    web_link: str
    sip_address: str | None
    host_email: str | None
    password: str | None = field(repr=False)
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class WebexPerson:
    """A person in the organization's directory."""

    id: str
    emails: tuple[str, ...]
    display_name: str | None
    first_name: str | None
    last_name: str | None
    org_id: str | None
    type: str | None
    status: str | None
    login_enabled: bool | None
    raw: Mapping[str, Any] = field(repr=False)


class Webex(ProviderClient):
    """Webex's OAuth endpoints (for one integration) and its REST API."""

    provider = "webex"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, app: OAuthApp | None = None) -> None:
        super().__init__(http, webex_error)
        self._base = endpoints.webex_api
        self._app = app

    @property
    def app(self) -> OAuthApp:
        if self._app is None:
            raise RuntimeError("no Webex integration is configured")
        return self._app

    def authorization_url(
        self, *, redirect_uri: str, scopes: Sequence[str], state: str, code_verifier: str
    ) -> str:
        """The consent URL for ``scopes`` (PKCE S256)."""
        params = {
            "client_id": self.app.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": pkce_challenge(code_verifier),
            "code_challenge_method": PKCE_METHOD,
        }
        return with_query(f"{self._base}/authorize", params)

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code for tokens (not retried on 5xx: a code is single-use)."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return await self._token(form, idempotent=False)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token (and the refresh token to keep: Webex's new one, or the same)."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret,
            "refresh_token": refresh_token,
        }
        return await self._token(form, idempotent=True, previous_refresh_token=refresh_token)

    async def create_meeting(
        self,
        token: str,
        *,
        title: str,
        start: datetime,
        end: datetime,
        timezone: str | None = None,
        invitees: Sequence[str] = (),
        host_email: str | None = None,
        agenda: str | None = None,
        send_email: bool = True,
    ) -> WebexMeeting:
        """Schedule a meeting (Webex answers 200). ``host_email`` schedules for another user (admin scope).

        Not retried on 5xx: Webex has no idempotency key, and a retry could make a second meeting.
        """
        body: dict[str, Any] = {"title": title, "start": format_rfc3339(start), "end": format_rfc3339(end)}
        if timezone:
            body["timezone"] = timezone
        if agenda:
            body["agenda"] = agenda
        if invitees:
            body["invitees"] = [{"email": email} for email in invitees]
        if host_email:
            body["hostEmail"] = host_email
        body["sendEmail"] = send_email
        answer = await self._json("POST", f"{self._base}/meetings", token=token, json_body=body)
        return self._meeting(answer)

    async def update_meeting(
        self,
        token: str,
        meeting_id: str,
        *,
        title: str,
        start: datetime,
        end: datetime,
        timezone: str | None = None,
        host_email: str | None = None,
        agenda: str | None = None,
        password: str | None = None,
        send_email: bool = True,
    ) -> WebexMeeting:
        """Replace a meeting's schedule (``PUT /meetings/{id}``, Webex answers 200 with the meeting).

        A PUT replaces the meeting: ``title``, ``start`` and ``end`` are required, and what is left
        out (agenda, password) may be reset, so pass what should stay. ``host_email`` is needed for a
        meeting an admin scheduled for another user. Safe to repeat (retried on 5xx).
        ``ProviderNotFound`` when Webex no longer knows the meeting.
        """
        body: dict[str, Any] = {"title": title, "start": format_rfc3339(start), "end": format_rfc3339(end)}
        if timezone:
            body["timezone"] = timezone
        if agenda:
            body["agenda"] = agenda
        if password:
            body["password"] = password
        if host_email:
            body["hostEmail"] = host_email
        body["sendEmail"] = send_email
        answer = await self._json(
            "PUT", f"{self._base}/meetings/{segment(meeting_id)}", token=token, json_body=body, idempotent=True
        )
        return self._meeting(answer)

    async def delete_meeting(
        self, token: str, meeting_id: str, *, host_email: str | None = None, send_email: bool = True
    ) -> bool:
        """Delete a meeting; False when Webex no longer knows it."""
        params = {"sendEmail": "true" if send_email else "false"}
        if host_email:
            params["hostEmail"] = host_email
        try:
            await self._send(
                "DELETE",
                f"{self._base}/meetings/{segment(meeting_id)}",
                token=token,
                params=params,
                idempotent=True,
            )
        except ProviderNotFound:
            return False
        return True

    async def me(self, token: str) -> WebexPerson:
        """The person the token belongs to (``GET /people/me``)."""
        return self._person(await self._json("GET", f"{self._base}/people/me", token=token, idempotent=True))

    async def find_person(self, token: str, email: str) -> WebexPerson | None:
        """The person with ``email``, or None (Webex answers an empty list, not 404)."""
        async for page in self.iter_people(token, email=email):
            if page.items:
                return page.items[0]
        return None

    async def iter_people(
        self,
        token: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        page_size: int = PEOPLE_PAGE,
        cursor: str | None = None,
    ) -> AsyncIterator[Page[WebexPerson]]:
        """Yield ``/people`` page by page, following the ``Link: rel="next"`` header.

        Non-admin tokens must filter by ``email`` or ``display_name``.
        """
        params = {"max": str(page_size)}
        if email:
            params["email"] = email
        if display_name:
            params["displayName"] = display_name
        url = cursor or with_query(f"{self._base}/people", params)
        number = 0
        while True:
            response = await self._send(
                "GET", same_origin(self.provider, url, self._base), token=token, idempotent=True
            )
            number += 1
            next_link = response.links.get("next", {}).get("url")
            items = tuple(
                self._person(p) for p in objects(self.provider, json_object(self.provider, response), "items")
            )
            yield Page(items=items, number=number, cursor=cursor, next_cursor=next_link)
            if next_link is None:
                return
            url = cursor = next_link

    def _meeting(self, answer: dict[str, Any]) -> WebexMeeting:
        return WebexMeeting(
            id=req_str(self.provider, answer, "id"),
            meeting_number=opt_str(answer, "meetingNumber"),
            web_link=req_str(self.provider, answer, "webLink"),
            sip_address=opt_str(answer, "sipAddress"),
            host_email=opt_str(answer, "hostEmail"),
            password=opt_str(answer, "password"),
            raw=answer,
        )

    def _person(self, row: dict[str, Any]) -> WebexPerson:
        emails = row.get("emails")
        return WebexPerson(
            id=req_str(self.provider, row, "id"),
            emails=tuple(e for e in emails if isinstance(e, str)) if isinstance(emails, list) else (),
            display_name=opt_str(row, "displayName"),
            first_name=opt_str(row, "firstName"),
            last_name=opt_str(row, "lastName"),
            org_id=opt_str(row, "orgId"),
            type=opt_str(row, "type"),
            status=opt_str(row, "status"),
            login_enabled=opt_bool(row, "loginEnabled"),
            raw=row,
        )

    async def _token(
        self, form: dict[str, str], *, idempotent: bool, previous_refresh_token: str | None = None
    ) -> TokenSet:
        body = await self._json(
            "POST", f"{self._base}/access_token", form=form, idempotent=idempotent, token_endpoint=True
        )
        return parse_token_response(self.provider, body, self.http.now(), previous_refresh_token)
