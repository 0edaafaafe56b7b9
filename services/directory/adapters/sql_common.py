"""Helpers every SQL repository of the directory shares: time zones, chunking, constraint mapping."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncSession

from kit import errors
from kit.db import constraint_name

T = TypeVar("T")

#: Bound parameters per statement: below SQLite's and asyncpg's limits with room to spare.
CHUNK = 900


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def aware_now(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rowcount(result: Any) -> int:
    """Rows an UPDATE/DELETE touched (``CursorResult.rowcount``)."""
    return int(getattr(result, "rowcount", 0) or 0)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_CONSTRAINTS: dict[str, tuple[type[errors.RendezvousError], str, str]] = {
    "uq_served_domains_org_unit_id_domain": (
        errors.AlreadyExists, "DOMAIN_ALREADY_SERVED",
        "a domain is already served by another calendar connection of this unit",
    ),
    "uq_directory_domains_org_unit_id_domain": (
        errors.AlreadyExists, "DOMAIN_ALREADY_SERVED",
        "a domain is already onboarded by another directory connection of this unit",
    ),
    "uq_accounts_org_unit_id_email": (
        errors.AlreadyExists, "ACCOUNT_ALREADY_EXISTS", "an account with this email already exists in the unit",
    ),
    "uq_accounts_directory_connection_id_external_id": (
        errors.AlreadyExists, "ALREADY_EXISTS", "an account already has this directory id",
    ),
    "uq_rooms_org_unit_id_email": (errors.AlreadyExists, "ALREADY_EXISTS", "a room already has this email"),
}  # fmt: skip


def integrity_error(error: exc.IntegrityError) -> errors.RendezvousError:
    """The domain error for a violated constraint (a unique violation is ALREADY_EXISTS)."""
    name = constraint_name(error)
    if name in _CONSTRAINTS:
        kind, reason, message = _CONSTRAINTS[name]
        return kind(message, reason=reason, metadata={"constraint": name})
    if name.endswith("_request_id"):
        return errors.AlreadyExists("request_id was already used", reason="REQUEST_ID_CONFLICT")
    return errors.AlreadyExists(f"conflicts with an existing record ({name or 'constraint'})")


async def guarded(session: AsyncSession, statement: Any, params: Any = None) -> Any:
    """Execute, turning a constraint violation into its domain error at once (Core statements
    fail on execute, not on commit)."""
    try:
        if params is None:
            return await session.execute(statement)
        return await session.execute(statement, params)
    except exc.IntegrityError as error:
        raise integrity_error(error) from error


class ReadOnlySqlite:
    """A read-only sqlite3 connection to ``path`` for reads made on the event loop's thread, opened
    when first used. Short busy timeout: a locked file fails fast (``sqlite3.OperationalError``),
    and the caller then takes its async path (closing this, so the next read opens afresh)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def execute(self, sql: str, params: Any) -> sqlite3.Cursor:
        if self._connection is None:
            connection = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)
            connection.execute("PRAGMA busy_timeout=100")
            self._connection = connection
        return self._connection.execute(sql, params)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
