"""Async SQLAlchemy 2.0: engines, a unit of work that rolls back unless committed, and the
translation of database failures into kit errors.

SQLite (``sqlite+aiosqlite:///var/data/x.db``) is the embedded default; PostgreSQL
(``postgresql+asyncpg://…``) in CI and production.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from kit import errors, telemetry

log = logging.getLogger("rendezvous.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """A MetaData whose constraints have predictable names (so errors can be mapped by name)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def create_engine(url: str, *, echo: bool = False, pool_pre_ping: bool = True) -> AsyncEngine:
    """An async engine; for SQLite also the directory, WAL, foreign keys and a busy timeout.

    ``pool_pre_ping`` (PostgreSQL; the safe default) checks a pooled connection each time it is
    taken, so one the server or the network dropped while idle is replaced instead of failing the
    unit of work. With asyncpg that check is three round trips (``BEGIN``, ``;``, ``ROLLBACK``) per
    unit of work. Without it, the first use of a dropped connection fails (DATABASE_UNAVAILABLE)
    and SQLAlchemy then replaces every connection pooled before the failure: worth it only where
    nothing between the service and PostgreSQL closes idle connections (``ServiceSettings.
    database_pool_pre_ping``).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=pool_pre_ping)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    telemetry.instrument_engine(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def constraint_name(error: exc.IntegrityError) -> str:
    """The name of the violated constraint, on PostgreSQL and SQLite alike ("" if unknown)."""
    orig = getattr(error, "orig", None)
    name = getattr(getattr(orig, "__cause__", None), "constraint_name", None) or getattr(orig, "constraint_name", None)
    if name:
        return str(name)
    text = str(orig)
    # SQLite: "UNIQUE constraint failed: table.col1, table.col2"
    if "constraint failed:" in text:
        cols = text.split("constraint failed:", 1)[1].strip()
        table = cols.split(".", 1)[0]
        names = "_".join(c.strip().split(".", 1)[-1] for c in cols.split(","))
        return f"uq_{table}_{names}"
    return ""


class SqlUnitOfWork:
    """One transaction: ``async with uow: … await uow.commit()``; leaving without commit rolls back.

    Subclasses add their repositories in :meth:`_open` and map integrity errors in
    :meth:`_integrity_error` (constraint name → domain error).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.session: AsyncSession
        self.committed = False

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.committed = False
        self._open(self.session)
        return self

    def _open(self, session: AsyncSession) -> None:
        """Bind repositories to the session (override)."""

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self.committed:
                await self.session.rollback()
        finally:
            await self.session.close()
        if isinstance(exc_val, exc.IntegrityError):
            # A Core statement fails at execute time, before flush/commit could map it.
            raise self._integrity_error(exc_val) from exc_val
        if isinstance(exc_val, exc.OperationalError | exc.InterfaceError | OSError) and not isinstance(
            exc_val, errors.RendezvousError
        ):
            raise errors.Unavailable("the database is unavailable; retry later", reason="DATABASE_UNAVAILABLE") from exc_val

    async def flush(self) -> None:
        try:
            await self.session.flush()
        except exc.IntegrityError as error:
            raise self._integrity_error(error) from error

    async def commit(self) -> None:
        try:
            await self.session.commit()
        except exc.IntegrityError as error:
            raise self._integrity_error(error) from error
        self.committed = True

    def _integrity_error(self, error: exc.IntegrityError) -> Exception:
        name = constraint_name(error)
        return errors.AlreadyExists(f"conflicts with an existing record ({name or 'constraint'})", reason="ALREADY_EXISTS")
