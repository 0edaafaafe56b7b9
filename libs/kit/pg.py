"""A hot statement straight on asyncpg, for the few paths where SQLAlchemy's per-call work shows.

    statement = DriverStatement(select(...).where(t.c.id == bindparam("id")))   # compiled once
    connections = DriverConnections(database_url, size=4)
    rows = await connections.fetch(statement, {"id": "x"})
    await connections.close()                                                  # at shutdown

:class:`DriverStatement` is a Core statement compiled once for asyncpg (SQL text, the order of its
parameters and the defaults of its literal values); asyncpg prepares it once per connection.

:class:`DriverConnections` are connections of the caller's own, outside SQLAlchemy's pool, each used
by one call at a time, for single statements run outside any transaction (a single statement is
atomic by itself). A pooled SQLAlchemy checkout costs round trips this does not: the pre-ping
(``BEGIN; ;  ROLLBACK`` with asyncpg), BEGIN and COMMIT — and, with asyncpg's own pool, the reset
query on release (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``). None is
needed: a single statement outside a transaction leaves no session state behind. Instead of a ping,
a connection whose statement failed or was cancelled is never reused (it is terminated and the next
call opens a fresh one), so a database restart costs the calls in flight and no more. These
statements are not traced as SQL spans (the RPC or job around them is).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url


class DriverStatement:
    """A Core statement as asyncpg SQL text with its parameters in order (bind them by name)."""

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=postgresql.asyncpg.dialect())
        self.sql = str(compiled)
        self._order = list(compiled.positiontup or ())
        self._defaults = dict(compiled.params)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        merged = {**self._defaults, **params}
        return [merged[name] for name in self._order]


def asyncpg_dsn(url: str | URL) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg), password kept."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class DriverConnections:
    """At most ``size`` asyncpg connections, each used by one call at a time; opened when first
    needed, kept while they work (see the module docstring)."""

    def __init__(self, url: str | URL, *, size: int) -> None:
        self._dsn = asyncpg_dsn(url)
        self._slots = asyncio.Semaphore(size)
        self._idle: list[asyncpg.Connection] = []
        self._closed = False

    async def fetch(self, statement: DriverStatement, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        return await self._run(statement, params, fetch=True)

    async def execute(self, statement: DriverStatement, params: Mapping[str, Any]) -> str:
        """Run a statement for its effect; asyncpg's status text (``"UPDATE 1"``)."""
        return await self._run(statement, params, fetch=False)

    async def _run(self, statement: DriverStatement, params: Mapping[str, Any], *, fetch: bool) -> Any:
        if self._closed:
            raise RuntimeError("these connections are closed")
        arguments: Sequence[Any] = statement.arguments(params)
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            if connection is None or connection.is_closed():
                connection = await asyncpg.connect(self._dsn)
            try:
                if fetch:
                    result = await connection.fetch(statement.sql, *arguments)
                else:
                    result = await connection.execute(statement.sql, *arguments)
            except BaseException:
                connection.terminate()
                raise
            if self._closed:
                await connection.close()
            else:
                self._idle.append(connection)
            return result

    async def close(self) -> None:
        """Close the idle connections; one still in use is closed when its call ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
