"""The one place that turns provider time strings into aware UTC datetimes and back."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span of time ``[start, end)`` in aware UTC datetimes."""

    start: datetime
    end: datetime


_FRACTION = re.compile(r"(\.\d{6})\d+")
_ODATA_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{1,4})?\)/$")
_UTC_NAMES = {"utc", "etc/utc", "z", "gmt", "coordinated universal time"}


def ensure_utc(value: datetime, name: str = "datetime") -> datetime:
    """``value`` converted to UTC; a naive datetime is a caller bug and raises ValueError."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def format_rfc3339(value: datetime) -> str:
    """``2026-10-01T13:00:00Z`` (with fractional seconds only when there are any)."""
    text = ensure_utc(value).replace(tzinfo=None).isoformat()
    return text + "Z"


def format_utc_seconds(value: datetime) -> str:
    """``2026-10-01T13:00:00Z`` truncated to whole seconds (Zoom's ``yyyy-MM-ddTHH:mm:ssZ``)."""
    return ensure_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 / ISO 8601 timestamp as an aware UTC datetime; one without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def graph_date_time(value: datetime) -> dict[str, str]:
    """A Graph ``dateTimeTimeZone`` in UTC: ``{"dateTime": "2026-03-15T09:00:00", "timeZone": "UTC"}``."""
    return {"dateTime": ensure_utc(value).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def parse_graph_date_time(value: Any) -> datetime:
    """A Graph ``dateTimeTimeZone`` as an aware UTC datetime (UTC or IANA zone names)."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ValueError("not a dateTimeTimeZone")
    local = parse_rfc3339(value["dateTime"]).replace(tzinfo=None)
    zone_name = str(value.get("timeZone") or "UTC")
    if zone_name.lower() in _UTC_NAMES:
        return local.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unsupported time zone {zone_name!r}") from exc
    return local.replace(tzinfo=zone).astimezone(UTC)


def parse_odata_date(text: str) -> datetime:
    """OData v2 ``/Date(1700000000000+0000)/`` as an aware UTC datetime.

    The milliseconds count from the epoch in UTC; the optional offset only says which local offset the
    value was recorded in, so the instant does not depend on it.
    """
    match = _ODATA_DATE.match(text.strip())
    if match is None:
        raise ValueError("not an OData /Date()/ value")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))


def odata_datetimeoffset(value: datetime) -> str:
    """An OData v2 filter literal: ``datetimeoffset'2026-03-01T00:00:00Z'``."""
    return f"datetimeoffset'{format_utc_seconds(value)}'"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` (delta seconds or an HTTP date) as seconds from ``now``; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - ensure_utc(now)).total_seconds())
