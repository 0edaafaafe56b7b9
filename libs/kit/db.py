"""Async SQLAlchemy 2.0: engines, a unit of work that rolls back unless committed, and the
translation of database failures into kit errors.

SQLite (``sqlite+aiosqlite:///var/data/x.db``) is the embedded default; PostgreSQL
(``postgresql+asyncpg://…``) in CI and production.
"""

from __future__ import annotations

import logging
import time
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


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite database URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(parsed.database)
    return None


#: A pooled PostgreSQL connection used this recently is taken without a check (HikariCP's
#: ``aliveBypassWindowMs`` is 500 ms too): under load every connection is in use all the time and
#: a check per unit of work would cost more than the work; one idle for longer is checked.
PING_IDLE_SECONDS = 0.5
_LAST_USED = "rendezvous_last_used"


def create_engine(url: str, *, echo: bool = False, pool_pre_ping: bool = True) -> AsyncEngine:
    """An async engine; for SQLite also the directory, WAL, foreign keys and a busy timeout.

    ``pool_pre_ping`` (PostgreSQL; the safe default) checks a pooled connection that was idle for
    more than :data:`PING_IDLE_SECONDS` when it is taken, so one the server or the network dropped
    while idle is replaced instead of failing the unit of work. With asyncpg that check is three
    round trips (``BEGIN``, ``;``, ``ROLLBACK``); a connection used within the window skips it (a
    connection the server dropped in that window fails its next unit of work with
    DATABASE_UNAVAILABLE, and SQLAlchemy then replaces every connection pooled before the failure).
    Without the check, that is also what happens to a connection dropped while idle: worth it only
    where nothing between the service and PostgreSQL closes idle connections
    (``ServiceSettings.database_pool_pre_ping``).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    elif pool_pre_ping:
        _ping_when_idle(engine)
    telemetry.instrument_engine(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """``pool_pre_ping`` for connections idle longer than :data:`PING_IDLE_SECONDS` (SQLAlchemy's
    pessimistic disconnect handling through the ``checkout`` event: a ``DisconnectionError``
    makes the pool discard the connection and take, or open, another)."""
    dialect = engine.sync_engine.dialect

    def used(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < PING_IDLE_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"pooled connection is gone: {error}") from error
        if not alive:
            raise exc.DisconnectionError("pooled connection is gone")

    event.listen(engine.sync_engine, "connect", used)  # a new connection needs no check
    event.listen(engine.sync_engine, "checkin", used)
    event.listen(engine.sync_engine, "checkout", checkout)


#: SQLSTATEs of a transaction PostgreSQL rolled back because of concurrent ones (deadlock_detected,
#: serialization_failure): nothing is wrong with the request, and a retry may well succeed.
TRANSACTION_CONFLICTS = frozenset({"40P01", "40001"})


def sqlstate(error: exc.DBAPIError) -> str:
    """The SQLSTATE of a driver error ("" when it has none, as SQLite's do not)."""
    orig = error.orig
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


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
        if isinstance(exc_val, exc.DBAPIError) and sqlstate(exc_val) in TRANSACTION_CONFLICTS:
            raise errors.Aborted(
                "the database ended the transaction to resolve a conflict with a concurrent one; retry",
                reason="TRANSACTION_CONFLICT",
            ) from exc_val
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
