"""Calendar events as stored data: completing Event JSON, attendee invitations, Meet conferences."""

from __future__ import annotations

import copy
import itertools
import random
import string
from typing import Any

from sandbox.providers.google_common import format_millis
from sandbox.providers.google_state import Calendar, State, html_link, random_id

_ETAGS = itertools.count(3_181_161_784_712_000)
MEET_ICON = "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"


def new_etag() -> str:
    """A fresh quoted etag."""
    return f'"{next(_ETAGS)}"'


def complete_event(event: dict[str, Any], calendar: Calendar, now: float) -> dict[str, Any]:
    """Fill the read-only fields Google sets on an Event (id, iCalUID, htmlLink, etag, organizer…)."""
    event.setdefault("id", random_id())
    event.setdefault("kind", "calendar#event")
    event.setdefault("status", "confirmed")
    event.setdefault("iCalUID", f"{event['id']}@google.com")
    event.setdefault("htmlLink", html_link(event["id"], calendar.id))
    event.setdefault("created", format_millis(now))
    event.setdefault("updated", format_millis(now))
    event.setdefault("etag", new_etag())
    event.setdefault("eventType", "default")
    event.setdefault("sequence", 0)
    event.setdefault("reminders", {"useDefault": True})
    owner = calendar.owner or calendar.id
    event.setdefault("creator", {"email": owner})
    event.setdefault("organizer", {"email": calendar.id})
    for person in (event["creator"], event["organizer"]):
        if person.get("email", "").lower() == owner.lower():
            person["self"] = True
    for attendee in event.get("attendees", []):
        attendee.setdefault("responseStatus", "needsAction")
        if attendee.get("email", "").lower() == owner.lower():
            attendee["self"] = True
    return event


def attendee_calendars(state: State, event: dict[str, Any], organizer_calendar: str) -> set[str]:
    """Lower-case ids of sandbox calendars invited to ``event`` (other than the organizer's)."""
    found = set()
    for attendee in event.get("attendees", []):
        email = str(attendee.get("email", "")).lower()
        if email and email != organizer_calendar.lower() and state.calendar(email) is not None:
            cal = state.calendar(email)
            if cal is not None:
                found.add(cal.id.lower())
    return found


def index_invites(
    state: State, calendar: Calendar, event: dict[str, Any], before: set[str] | None = None
) -> None:
    """Point attendee calendars at ``event`` (and stop pointing removed attendees at it)."""
    key = (calendar.id.lower(), event["id"])
    now = attendee_calendars(state, event, calendar.id) if event.get("status") != "cancelled" else set()
    for gone in (before or set()) - now:
        state.invites.get(gone, set()).discard(key)
    for cal_id in now:
        state.invites.setdefault(cal_id, set()).add(key)
    state.touch_events()


def invited_events(state: State, calendar_id: str) -> list[dict[str, Any]]:
    """Events organized elsewhere that invite ``calendar_id``."""
    out = []
    for org_id, event_id in state.invites.get(calendar_id.lower(), ()):
        organizer = state.calendars.get(org_id)
        event = organizer.events.get(event_id) if organizer else None
        if event is not None:
            out.append(event)
    return out


def meeting_code() -> str:
    """A Meet code ``aaa-bbbb-ccc``."""
    letters = string.ascii_lowercase

    def part(n: int) -> str:
        return "".join(random.choices(letters, k=n))

    return f"{part(3)}-{part(4)}-{part(3)}"


def new_conference(request_id: str) -> dict[str, Any]:
    """A created Google Meet ``conferenceData`` for ``createRequest.requestId``."""
    code = meeting_code()
    pin = "".join(random.choices(string.digits, k=9))
    return {
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": "success"},
        },
        "entryPoints": [
            {
                "entryPointType": "video",
                "uri": f"https://meet.google.com/{code}",
                "label": f"meet.google.com/{code}",
            },
            {
                "entryPointType": "phone",
                "uri": "tel:+1-555-0100",
                "label": "+1 555-0100",
                "pin": pin,
                "regionCode": "US",
            },
            {"entryPointType": "more", "uri": f"https://tel.meet/{code}?pin={pin}", "pin": pin},
        ],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet", "iconUri": MEET_ICON},
        "conferenceId": code,
    }


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Google patch semantics: objects merge recursively, arrays and scalars replace."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def created_record(state: State, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
    """The admin ``created`` record of an event a client created, or None."""
    for record in state.created_events:
        if record["calendarId"] == calendar.id and record["eventId"] == event_id:
            return record
    return None
