"""Time helpers for the Microsoft emulator: Windows time-zone names and Graph ``dateTimeTimeZone``.

Graph accepts both Windows zone ids ("Pacific Standard Time") and IANA names
("Europe/Berlin") in ``dateTimeTimeZone.timeZone`` and in ``Prefer: outlook.timezone``;
it formats returned times as ``2026-03-15T12:00:00.0000000`` in the requested zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Windows zone id -> IANA zone (the CLDR "001" territory mapping for the common zones).
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "tzone://Microsoft/Utc": "UTC",
    "Dateline Standard Time": "Etc/GMT+12",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "Eastern Standard Time": "America/New_York",
    "SA Pacific Standard Time": "America/Bogota",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Argentina/Buenos_Aires",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "GTB Standard Time": "Europe/Bucharest",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "Egypt Standard Time": "Africa/Cairo",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Russian Standard Time": "Europe/Moscow",
    "Arab Standard Time": "Asia/Riyadh",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Pakistan Standard Time": "Asia/Karachi",
    "India Standard Time": "Asia/Calcutta",
    "Nepal Standard Time": "Asia/Katmandu",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "SE Asia Standard Time": "Asia/Bangkok",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Taipei Standard Time": "Asia/Taipei",
    "W. Australia Standard Time": "Australia/Perth",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}

_WINDOWS_LOWER = {k.lower(): v for k, v in WINDOWS_ZONES.items()}
_PREFER_TZ = re.compile(r'outlook\.timezone\s*=\s*"([^"]*)"', re.IGNORECASE)


@lru_cache(maxsize=512)
def resolve_zone(name: str | None) -> tzinfo | None:
    """Return the zone for a Windows id or an IANA name (None when unknown; empty means UTC)."""
    if name is None or not name.strip():
        return UTC
    key = name.strip()
    iana = _WINDOWS_LOWER.get(key.lower(), key)
    if iana.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def prefer_timezone(header: str | None) -> str | None:
    """The zone named by ``Prefer: outlook.timezone="…"`` (None when absent)."""
    if not header:
        return None
    match = _PREFER_TZ.search(header)
    return match.group(1) if match else None


def parse_graph_datetime(value: dict[str, str] | None) -> datetime | None:
    """Parse a ``dateTimeTimeZone`` object into an aware UTC datetime (None when invalid).

    A ``dateTime`` carrying its own offset or ``Z`` wins over ``timeZone``.
    """
    if not isinstance(value, dict):
        return None
    raw = value.get("dateTime")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = datetime.fromisoformat(_trim_fraction(raw.replace("Z", "+00:00")))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        zone = resolve_zone(value.get("timeZone"))
        if zone is None:
            return None
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _trim_fraction(raw: str) -> str:
    """Cut fractional seconds to six digits (Graph sends seven)."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", raw)
    if not match:
        return raw
    return f"{match.group(1)}.{match.group(2)[:6]}{match.group(3)}"


def format_graph(ts: float, zone: tzinfo) -> str:
    """Format epoch seconds the Graph way in ``zone``: ``2026-03-15T12:00:00.0000000``."""
    local = datetime.fromtimestamp(ts, zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond:06d}0"


def graph_dt(ts: float, zone: tzinfo, zone_name: str) -> dict[str, str]:
    """A ``dateTimeTimeZone`` object for epoch seconds, labelled ``zone_name``."""
    return {"dateTime": format_graph(ts, zone), "timeZone": zone_name}


def iso_utc(ts: float) -> str:
    """ISO-8601 UTC with a ``Z`` and 7-digit fraction, as Graph prints ``createdDateTime``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{int(ts % 1 * 1e6):06d}0Z"
