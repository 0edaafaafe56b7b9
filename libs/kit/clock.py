"""Time and identifiers as ports, so domains never call ``datetime.now`` or ``uuid4`` themselves."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current instant as an aware UTC datetime."""

    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    """Makes new opaque identifiers."""

    def new_id(self) -> str: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests: stands still until told to move."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at


class UuidGenerator:
    """Random UUIDs rendered as 32 lower-case hex characters."""

    def new_id(self) -> str:
        return uuid.uuid4().hex


class SequentialIds:
    """Predictable ids for tests: ``prefix-1``, ``prefix-2`` …"""

    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        return f"{self._prefix}-{self._n}"


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random secret (state values, confirmation tokens)."""
    return secrets.token_urlsafe(nbytes)
