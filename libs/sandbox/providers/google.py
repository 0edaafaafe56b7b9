"""Google emulation: OAuth 2.0, Calendar v3 (freeBusy, events, calendarList), Admin SDK Directory
(users, domains) and Meet v2 (spaces).

Routes, under the real hosts:

- ``accounts.google.com/o/oauth2/v2/auth``; ``oauth2.googleapis.com/token|revoke|tokeninfo``;
  ``openidconnect.googleapis.com/v1/userinfo``; ``www.googleapis.com/oauth2/v3/userinfo|certs``
- ``www.googleapis.com/calendar/v3/freeBusy``, ``…/calendars/{calendarId}/events[/{eventId}]``,
  ``…/users/me/calendarList``
- ``admin.googleapis.com/admin/directory/v1/users[/{userKey}]``, ``…/customer/{customer}/domains``
- ``meet.googleapis.com/v2/spaces[/{space}]``

The pieces live in ``google_*`` modules; this one is the provider contract of :mod:`sandbox.core`.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.core import Sandbox
from sandbox.providers import google_calendar, google_directory, google_freebusy, google_meet, google_oauth
from sandbox.providers.google_common import NAME, error_body
from sandbox.providers.google_seed import bulk_users, created, load, seed, update_user
from sandbox.providers.google_state import State

__all__ = ["NAME", "State", "bulk_users", "created", "error_body", "load", "seed", "setup", "update_user"]


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add every Google route."""
    google_oauth.setup(app, sandbox)
    google_freebusy.setup(app, sandbox)
    google_calendar.setup(app, sandbox)
    google_directory.setup(app, sandbox)
    google_meet.setup(app, sandbox)
