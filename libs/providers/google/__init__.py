"""Google: OAuth, Calendar, Admin Directory and Meet, grouped under one ``Google`` client."""

from __future__ import annotations

from providers.endpoints import OAuthApp, ProviderEndpoints
from providers.google.calendar import (
    CalendarError,
    CalendarFreeBusy,
    CalendarListEntry,
    GoogleCalendar,
    GoogleEvent,
    new_event_id,
)
from providers.google.directory import GoogleDirectory, GoogleDomain, GoogleUser
from providers.google.meet import GoogleMeet, MeetSpace
from providers.google.oauth import GoogleIdentity, GoogleOAuth, decode_id_token_unverified
from providers.http import ProviderHttp

__all__ = [
    "CalendarError",
    "CalendarFreeBusy",
    "CalendarListEntry",
    "Google",
    "GoogleCalendar",
    "GoogleDirectory",
    "GoogleDomain",
    "GoogleEvent",
    "GoogleIdentity",
    "GoogleMeet",
    "GoogleOAuth",
    "GoogleUser",
    "MeetSpace",
    "decode_id_token_unverified",
    "new_event_id",
]


class Google:
    """Every Google API Rendezvous uses: ``oauth``, ``calendar``, ``directory``, ``meet``."""

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, app: OAuthApp | None = None) -> None:
        self.oauth = GoogleOAuth(http, endpoints, app)
        self.calendar = GoogleCalendar(http, endpoints)
        self.directory = GoogleDirectory(http, endpoints)
        self.meet = GoogleMeet(http, endpoints)
