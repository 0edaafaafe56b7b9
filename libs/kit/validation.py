"""Checks shared by every service's input validation (pure Python)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_EMAIL_LENGTH = 320
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_email(value: str) -> str:
    """Trim and lower-case an address (domains are case-insensitive; we treat local parts alike)."""
    return value.strip().lower()


def is_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL_LENGTH and bool(_EMAIL.match(value))


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def normalize_domain(value: str) -> str:
    return value.strip().lower().rstrip(".")


def is_domain(value: str) -> bool:
    return bool(_DOMAIN.match(value))


def is_time_zone(name: str) -> bool:
    """True for an IANA zone name this machine's tz database knows (``Europe/Berlin``, ``UTC``)."""
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
